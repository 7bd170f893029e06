// Gemma3 and MedGemma as local generative models (registry names "Gemma3", "MedGemma"; tasks vqa and
// caption), run as the reference runs them (GENERATIVE.md 1.5, 1.6; model/gemma3.py, model/medgemma.py):
//
//   Gemma3ForConditionalGeneration
//   ├── vision      SiglipVisionModel (no head): last_hidden_state after post_layernorm, [N, patches, D]
//   ├── proj        Gemma3MultiModalProjector: average pool patches -> mm_tokens_per_image, mm_soft_emb_norm
//   │               (Gemma RMSNorm, 1 + w), matmul with mm_input_projection_weight [D, hidden]
//   └── lm          the Gemma3 decoder (nn::CausalLM with Gemma3 options: interleaved sliding / global
//                   layers with their two ropes, QK-norm, sandwich norms, embeddings times sqrt(hidden),
//                   query_pre_attn_scalar); an image's soft tokens attend to each other both ways in prefill
//
// Gemma3: messages [user: [image..., text]], greedy with 200 new tokens (512 when an agent sets a temperature,
// then sampling when it is > 0, with the checkpoint's top_k / top_p), stop on the generation_config's
// <eos> / <end_of_turn>. MedGemma: the system turn "You are an expert on understanding medical images.",
// several images composited into one 896 x 896 panel, 512 new tokens, and its sliding-window budget: a
// prompt longer than sliding_window - 512 tokens has its question middle-truncated (binary search over
// characters) to fit, failing that to fit sliding_window, and max_new_tokens = min(512, sliding_window -
// prompt tokens). A request's own system_prompt replaces MedGemma's (and is Gemma3's system turn).
//
// Decoding follows the model as transformers 5.x (and 4.53 with a dynamic cache) computes it. The reference's
// transformers 4.53.1 generates with the checkpoints' cache_implementation "hybrid", whose sliding layers depart
// from that once a sequence passes sliding_window + 1 tokens (tests/oracles/models/gemma3_reference_version_check.py
// shows it on the fixture): MedGemma's budget keeps prompt + answer within the window, so it never gets there;
// Gemma3 only with prompts over sliding_window - 200 tokens (824 for the 4B checkpoints).
//
// Checkpoints load in every layout transformers has written: the published one (language_model.model.*,
// vision_tower.vision_model.*, multi_modal_projector.*), 4.52-4.57's (model.language_model.*,
// model.vision_tower.vision_model.*, model.multi_modal_projector.*) and 5.x's (vision_tower.* without
// vision_model).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/gemma3/config.h"
#include "medvlmbench/models/gemma3/processor.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/nn/vit.h"

namespace mvb::gemma3 {

enum class Flavor { kGemma3, kMedGemma };

// Checkpoint name -> "vision.<SiglipVisionTransformer name>", "proj.<projector name>" or "lm.<CausalLM name>";
// nullopt for tensors we do not keep (a tied lm_head).
std::optional<std::string> checkpoint_to_module(const std::string& name);

class ProjectorImpl : public torch::nn::Module {
 public:
  explicit ProjectorImpl(const Config& c);
  // [N, patches, D] (SigLIP's last hidden state) -> [N, mm_tokens_per_image, hidden]
  at::Tensor forward(const at::Tensor& vision_outputs);
  Config cfg;
  at::Tensor mm_input_projection_weight;  // [D, hidden]
  nn::RMSNorm mm_soft_emb_norm{nullptr};
};
TORCH_MODULE(Projector);

class Gemma3Model : public LocalVlm {
 public:
  Gemma3Model(const ModelSpec& spec, Flavor flavor);

  nlohmann::json describe() const override;

  // One request through the processor: the rendered prompt (before image expansion), transformers' input_ids
  // and token_type_ids, the pixel values of the images the model sees (after MedGemma's panel), the question
  // after MedGemma's fit, and the new-token budget.
  struct Text {
    std::string question;  // after MedGemma's prompt fit
    std::string rendered;  // apply_chat_template(tokenize=False)
    std::vector<int64_t> input_ids;
    int n_images = 0;
  };
  Text text_of(const GenerationRequest& request) const;
  struct Input {
    Text text;
    at::Tensor pixel_values;  // [n_images, 3, H, W] float32
    nn::MultimodalInput chunks;
  };
  Input process(const GenerationRequest& request);
  // SigLIP + projector: [N, 3, H, W] -> [N, mm_tokens_per_image, hidden] in the model's dtype.
  at::Tensor image_features(const at::Tensor& pixel_values);
  // Teacher-forced logits over the whole prompt, [L, vocab] float32 (transformers' forward() with token_type_ids).
  at::Tensor forward_logits(const Input& input);
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;

  const Config& config() const { return cfg_; }
  const ImageConfig& image_config() const { return image_cfg_; }
  nn::CausalLM& language_model() { return lm_; }
  const text::Tokenizer& tok() const { return *tokenizer_; }

 protected:
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  nn::GenerationBackend& backend() override { return *backend_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  std::vector<int64_t> encode(const std::string& rendered) const;
  std::string system_of(const GenerationRequest& request) const;
  nn::MultimodalInput chunks_of(const Text& text, const at::Tensor& features) const;

  Flavor flavor_;
  std::string dir_;
  Config cfg_;
  ImageConfig image_cfg_;
  nn::GenerationConfig gen_defaults_;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  nn::VisionTransformer vision_{nullptr};
  Projector proj_{nullptr};
  nn::CausalLM lm_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
};

}  // namespace mvb::gemma3
