// VILA1.5 and VILA-M3 (Llama-3-8B) as local generative models, as the reference's model/vila.py drives
// the vendored VILA code (GENERATIVE.md 1.13-1.15, 3.12). Checkpoint layout: layout.h.
//
//   image  -> PIL bicubic resize to the tower's size (image_aspect_ratio "resize") -> SiglipImageProcessor
//          -> SigLIP hidden_states[-2], every token (cls_patch) -> mlp_downsample (27x27 -> 14x14 = 196)
//          -> followed by the embeddings of tokenizer("\n").input_ids (BasicImageEncoder end_tokens; the
//             Llama-3 tokenizer's BOS included, as the reference embeds it)
//   prompt -> the llm tokenizer's own chat template over one user turn "<image>" + question (no newline),
//             tokenized with special tokens (a Llama-3 tokenizer adds a second BOS to the template's)
//          -> the image block spliced where <image> stands -> Llama-3 decoder.
//   generation: the reference's default_generation_config: greedy, max_length = the tokenizer's
//             model_max_length (new tokens = model_max_length - prompt positions), eos = the tokenizer's
//             stop tokens (eos + the template's end of turn); llm/generation_config.json fills defaults
//             when written by transformers >= 4.50 (as 4.53's generate() does).
//
// Differences from the reference, by decision (describe() records them):
// - The variant is the registry name ("VILA1.5", "VILA-M3"), not a substring of --model_path.
// - LoRA: --model_path ADAPTER --model_base BASE. The reference hard-codes the base
//   (Efficient-Large-Model/Llama-3-VILA1.5-8B for VILA-M3 and VILA1.5 LoRA runs alike); here it is given.
//   non_lora_trainables.bin (the tuned projector) is loaded; the reference's key normalisation leaves
//   "model.mm_projector.*", which matches nothing under load_state_dict(strict=False), so it runs the
//   base projector: --reference_compat vila_ignore_non_lora_trainables reproduces that.
// - The three tokens the reference adds to the tokenizer (<vila/sentinel>, <image>, <vila/video>) grow
//   its embedding matrices with mean-initialised rows; their logits equal the mean logit, so greedy never
//   picks them, and they are left out here.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/models/vila/layout.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb::vila {

// One chat message for the template.
struct ChatMessage {
  std::string role, content;
};

// Renders tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) for the
// templates we implement (the Llama-3 Instruct template); throws mvb::Error naming `where` otherwise.
std::string render_chat_template(const std::string& template_text, const std::vector<ChatMessage>& messages,
                                 const std::string& bos_token, const std::string& where);

class VilaModel : public LocalVlm {
 public:
  enum class Variant { kVila15, kVilaM3 };
  VilaModel(const ModelSpec& spec, Variant variant);

  nlohmann::json describe() const override;
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;
  nn::GenerationBackend& backend() override { return *backend_; }

  // The reference's prompt text for a request (the chat template over "<image>" + question).
  std::string render_prompt(const GenerationRequest& request) const;
  // tokenizer(text).input_ids with <image> as an added token: kMediaToken where it stood.
  std::vector<int64_t> tokenize(const std::string& text) const;
  // process_images for one image: PIL resize to the tower's size, then the SigLIP processor.
  at::Tensor process_image(const RgbImage& img) const;
  // The image block: projected features then the end tokens' embeddings ([tokens + end, hidden]).
  int64_t image_positions() const;

  static constexpr int64_t kMediaToken = -1;
  const VilaConfig& config() const { return cfg_; }
  VilaNet& net() { return net_; }
  const std::vector<int64_t>& stop_token_ids() const { return stop_ids_; }
  const std::vector<int64_t>& end_token_ids() const { return end_ids_; }

 private:
  std::vector<std::string> known_quirks() const { return {"vila_ignore_non_lora_trainables"}; }

  Variant variant_;
  std::string dir_;
  std::string adapter_dir_;
  c10::Device device_;
  at::ScalarType dtype_;
  VilaConfig cfg_;
  VilaNet net_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::string source_;
  std::string template_;                      // the chat template text in force
  std::vector<int64_t> stop_ids_;             // tokenizer.stop_token_ids
  std::vector<int64_t> start_ids_, end_ids_;  // BasicImageEncoder start / end tokens
  int64_t model_max_length_ = 0;
  nn::GenerationConfig llm_defaults_;  // llm/generation_config.json values that fill defaults
  std::vector<std::string> llm_default_keys_;
  int64_t image_tokens_ = 0;  // projector output tokens per image
  std::vector<std::string> ignored_non_lora_;
  int loaded_non_lora_ = 0, merged_lora_ = 0;
};

}  // namespace mvb::vila
