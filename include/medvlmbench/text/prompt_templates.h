// The prompt each model family of the reference builds around a VQA / caption question, as data:
// the Hugging Face chat templates of Qwen2-VL / Qwen2.5-VL / Lingshu (ChatML), Gemma3 / MedGemma and InternVL3,
// BLIP-2's "Question: ... Answer:" and XrayGPT's "###Patient: ... ###Doctor:". Each renders to the
// exact string the reference tokenizes, including the processor's image-placeholder expansion.
// (LLaVA-1.5 / LLaVA-Med's conversation templates and <image> splicing live with the model, in
// include/medvlmbench/models/llava/llava.h.)
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
  kQwen2VL,   // Qwen2-VL, Qwen2.5-VL, Lingshu: ChatML with <|vision_start|><|image_pad|><|vision_end|>
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
  // understanding medical images."; Qwen: "You are a helpful assistant.").
  std::optional<std::string> system_prompt;
  std::string model_name;  // refines defaults (MedGemma vs Gemma3)
  // Placeholders per image after expansion; -1 = family default (Gemma3: 256 = mm_tokens_per_image;
  // InternVL: 256 per tile x num_tiles; Qwen: set it from qwen2vl_image_token_count(); BLIP-2: 0 =
  // legacy processor without query-token expansion; XrayGPT: 1, the model splices features in).
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

// Qwen2-VL processor: grid_t * grid_h * grid_w / merge_size^2 image pads for one image.
int qwen2vl_image_token_count(int grid_t, int grid_h, int grid_w, int merge_size = 2);

// The reference's answer post-processing for generated text (XrayGPT: text before "###", after
// "Doctor:", stripped; the others: stripped).
std::string extract_answer(PromptFamily family, const std::string& generated);

}  // namespace mvb::text
