// The prompt each model family of the reference builds around a VQA / caption question, as data:
// the Hugging Face chat templates of Gemma3 / MedGemma and InternVL3, BLIP-2's "Question: ...
// Answer:" and XrayGPT's "###Patient: ... ###Doctor:". Each renders to the exact string the reference
// tokenizes, including the processor's image-placeholder expansion. Families whose model exists live
// with it: Qwen2-VL / Qwen2.5-VL / Lingshu's ChatML in models/qwen2_vl/processor.h, LLaVA-1.5 /
// LLaVA-Med's conversations and <image> splicing in models/llava/llava.h.
//
//   auto fam = mvb::text::prompt_family_for_model("MedGemma");
//   mvb::text::PromptOptions opt;                       // family defaults (system prompt, 256 image tokens)
//   auto p = mvb::text::render_prompt(*fam, question, opt);
//   auto ids = tokenizer->encode(p.text, p.add_special_tokens);
//   // image features replace the p.image_token_count copies of p.image_token
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/text/tokenizer.h"

namespace mvb::text {

enum class PromptFamily {
  kGemma3,    // Gemma3, MedGemma: <start_of_turn> turns, <start_of_image> expanded
  kInternVL,  // InternVL3 (-hf): ChatML with <img><IMG_CONTEXT>*N</img>
  kBlip2,     // BLIP-2: "Question: {} Answer:"
  kXrayGPT,   // XrayGPT (MiniGPT-4 on Vicuna): "###Patient: <Img><ImageHere></Img> {}###Doctor:"
};

std::string to_string(PromptFamily f);

// The family of a reference model name (constants.LANGUAGE_MODELS), or nullopt for models without
// a chat template here (API models, NVILA/VILA families, XGenMiniV1).
std::optional<PromptFamily> prompt_family_for_model(const std::string& model_name);

struct PromptOptions {
  // System prompt; nullopt = the family default for `model_name` (MedGemma: "You are an expert on
  // understanding medical images.").
  std::optional<std::string> system_prompt;
  std::string model_name;  // refines defaults (MedGemma vs Gemma3)
  // Placeholders per image after expansion; -1 = family default (Gemma3: 256 = mm_tokens_per_image;
  // InternVL: 256 per tile x num_tiles; BLIP-2: 0 = legacy processor without query-token expansion;
  // XrayGPT: 1, the model splices features in).
  int image_tokens = -1;
  int internvl_tiles = 1;  // InternVL dynamic-resolution tiles (incl. thumbnail)
  bool with_image = true;  // text-only prompt when false
};

struct RenderedPrompt {
  std::string text;                // what the reference passes to the tokenizer
  bool add_special_tokens = true;  // false when the template already starts with BOS
  std::string image_token;         // placeholder the vision features replace ("" when none)
  int image_token_count = 0;       // how many placeholders `text` holds per image
  std::vector<std::string> stop;   // strings that end the answer in generated text
};

RenderedPrompt render_prompt(PromptFamily family, const std::string& question, const PromptOptions& options = {});


// The reference's answer post-processing for generated text (XrayGPT: text before "###", after
// "Doctor:", stripped; the others: stripped).
std::string extract_answer(PromptFamily family, const std::string& generated);

}  // namespace mvb::text
