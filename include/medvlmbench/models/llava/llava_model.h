// The LLaVA module tree (HF LlavaForConditionalGeneration's names) and the LocalVlm model that the
// registry builds for "LLaVA-1.5" and "LLaVA-Med" (src/models/llava/model.cpp).
//
//   LlavaNet
//   ├── vision_tower            nn::VisionTransformer (CLIP; "embeddings." folded in)
//   ├── multi_modal_projector   linear_1 -> GELU -> linear_2 (mlp2x_gelu)
//   └── language_model          nn::CausalLM (model.*, lm_head)
//
// Reference behaviours (GENERATIVE.md 1.1, 1.2, 3.1), recorded by describe() in run.json:
// - Preprocessing: one pass (pad to square with the CLIP mean colour, CLIP resize/crop/normalise) by
//   default; --reference_compat llava_double_preprocess runs the reference's second pass over
//   to_pil_image(normalised tensor) (its published numbers were made that way).
// - LLaVA-Med's padding offset random.randint(c, c + 1): the reference seeds Python's random once
//   with --seed and draws in sample order, so a sample's offset depends on every non-square image
//   before it (and changes with resume, sharding or batch order). By default each request draws
//   from its own MT19937 seeded with GenerationRequest::seed (derived from --seed and the sample),
//   so a sample's pixels depend on nothing else. --reference_compat llava_med_global_rng restores the
//   single stream (seeded with --seed, drawn in the order requests reach prepare()); it matches the
//   reference when samples run in the reference's order from the start and nothing else draws from
//   Python's random.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "medvlmbench/models/llava/llava.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::llava {

class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(int64_t vision_dim, int64_t text_dim, nn::Activation act);
  at::Tensor forward(const at::Tensor& x);
  nn::Linear linear_1{nullptr}, linear_2{nullptr};
  nn::Activation act;
};
TORCH_MODULE(Projector);

class LlavaNetImpl : public torch::nn::Module {
 public:
  explicit LlavaNetImpl(const LlavaConfig& cfg);
  // pixels [N, 3, H, W] -> projected image embeddings [N, patches, text hidden].
  at::Tensor image_features(const at::Tensor& pixel_values);
  LlavaConfig cfg;
  nn::VisionTransformer vision_tower{nullptr};
  Projector multi_modal_projector{nullptr};
  nn::CausalLM language_model{nullptr};
};
TORCH_MODULE(LlavaNet);

class LlavaModel : public LocalVlm {
 public:
  enum class Variant { kLlava15, kLlavaMed };
  LlavaModel(const ModelSpec& spec, Variant variant);

  nlohmann::json describe() const override;
  std::string architecture() const;

  // The processor's output for requests (chunks and rendered prompts), as generate() sees it.
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  const LlavaConfig& config() const { return cfg_; }
  LlavaNet& net() { return net_; }
  const std::string& checkpoint_dir() const { return dir_; }
  // Our module path -> its path in the published PyTorch model of this layout (LlavaLlamaForCausalLM or
  // transformers 5's LlavaForConditionalGeneration): PEFT's key names.
  std::optional<std::string> peft_module_name(const std::string& ours) const;
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;
  nn::GenerationBackend& backend() override { return *backend_; }

 private:
  std::vector<std::string> known_quirks() const;
  Conversation conversation() const {
    return variant_ == Variant::kLlava15 ? Conversation::kVicunaV1 : Conversation::kMistralInstruct;
  }
  static nn::MultimodalInput truncate(nn::MultimodalInput in, int64_t max_len);

  Variant variant_;
  std::string dir_;
  std::string adapter_dir_;  // --model_path of a LoRA adapter (dir_ is then --model_base)
  c10::Device device_;
  at::ScalarType dtype_;
  LlavaConfig cfg_;
  LlavaNet net_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::string source_;
  int64_t eos_id_ = 2;
  bool double_preprocess_ = false;
  bool global_stream_ = false;
  PythonRandom global_rng_;
};

}  // namespace mvb::llava
