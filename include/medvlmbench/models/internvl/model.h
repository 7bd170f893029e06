// InternVL3 (-hf checkpoints, e.g. OpenGVLab/InternVL3-8B-hf) as a local generative model: registry
// name "InternVL3", tasks vqa and caption, run as the reference's model/internvl.py runs it
// (GENERATIVE.md 1.10): AutoProcessor's chat template with every image of the request before the text
// and no system turn, GotOcr2ImageProcessorFast tiling, InternViT -> pixel shuffle -> projector, the
// Qwen2 (or LLaMA) decoder, and generate(max_new_tokens=200) under the checkpoint's
// generation_config.json (greedy for the published -hf folders). A request temperature > 0 samples, as
// N's wrapper does for agents.
//
// Weights load in both layouts: the published one (vision_tower.*, multi_modal_projector.*,
// language_model.model.*, language_model.lm_head.*: what transformers 5 save_pretrained writes too)
// and transformers 5's in-memory names (model.vision_tower.*, model.language_model.*, lm_head.*).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/internvl/config.h"
#include "medvlmbench/models/internvl/processor.h"
#include "medvlmbench/models/internvl/vision.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/generation.h"

namespace mvb::internvl {

// Checkpoint name -> "v.<VisionStack name>" or "lm.<CausalLM name>"; nullopt for names neither holds.
std::optional<std::string> checkpoint_to_module(const std::string& name);

class InternVLModel : public LocalVlm {
 public:
  explicit InternVLModel(const ModelSpec& spec);

  nlohmann::json describe() const override;

  // One request as the processor and model see it.
  struct Input {
    nn::MultimodalInput chunks;
    std::string prompt_text;
    std::vector<int64_t> input_ids;  // the whole prompt as transformers' input_ids
    std::vector<int64_t> tiles;      // tiles per image (thumbnail included)
    at::Tensor pixel_values;         // [sum(tiles), 3, S, S] (undefined without images)
  };
  Input process(const GenerationRequest& request);
  // Teacher-forced logits over the whole prompt, [L, vocab] float32 (transformers' forward()).
  at::Tensor forward_logits(const Input& input);
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;

  const Config& config() const { return cfg_; }
  const ImageConfig& image_config() const { return image_cfg_; }
  int64_t image_seq_length() const { return image_seq_length_; }
  VisionStack& vision() { return vision_; }
  nn::CausalLM& language_model() { return lm_; }
  bool tied() const { return tied_; }

 protected:
  Prepared prepare_one(const GenerationRequest& request) override;
  nn::GenerationBackend& backend() override { return *backend_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  std::string dir_;
  Config cfg_;
  ImageConfig image_cfg_;
  int64_t image_seq_length_ = 256;
  nn::GenerationConfig gen_defaults_;
  int default_max_new_tokens_ = 200;  // internvl.py: generate(**inputs, max_new_tokens=200)
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  bool tied_ = false;
  VisionStack vision_{nullptr};
  nn::CausalLM lm_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
};

}  // namespace mvb::internvl
