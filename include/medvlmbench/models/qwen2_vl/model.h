// Qwen2-VL, Qwen2.5-VL and Lingshu as local generative models (registry names "Qwen2-VL",
// "Qwen25-VL", "Lingshu"; tasks vqa and caption), run as the reference runs them
// (GENERATIVE.md 1.7-1.9): the ChatML prompt with its default system turn and every image of the
// request before the text, qwen_vl_utils' resize with --min_pixels / --max_pixels (Lingshu: every
// image forced to 224 x 224, 64 tokens), and decoding by the checkpoint's generation_config.json
// (Qwen: do_sample with top_k 1 after repetition_penalty 1.05) with 512 new tokens (Lingshu 128).
//
// Checkpoints load in both layouts: the Hub's (model.layers.*, visual.*, lm_head.*, config keys at the
// top) and transformers 5 save_pretrained's (model.language_model.*, model.visual.*, text_config).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/models/qwen2_vl/config.h"
#include "medvlmbench/models/qwen2_vl/processor.h"
#include "medvlmbench/models/qwen2_vl/vision.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/generation.h"

namespace mvb::qwen2_vl {

enum class Flavor { kQwen2VL, kQwen25VL, kLingshu };

// Checkpoint name -> "visual.<vision module name>" or "lm.<CausalLM module name>", for either layout;
// nullopt for names neither holds.
std::optional<std::string> checkpoint_to_module(const std::string& name);

class QwenVlModel : public LocalVlm {
 public:
  QwenVlModel(const ModelSpec& spec, Flavor flavor);

  nlohmann::json describe() const override;

  // The chunks of one request: text ids, then per image its merged embeddings with their M-RoPE
  // offsets and the <|image_pad|> ids transformers' input_ids hold (the repetition penalty sees them).
  struct Input {
    nn::MultimodalInput chunks;
    std::string prompt_text;
    std::vector<int64_t> input_ids;  // the whole prompt as transformers' input_ids
    std::vector<Grid> grids;
  };
  Input process(const GenerationRequest& request);
  // Teacher-forced logits over the whole prompt, [L, vocab] float32 (transformers' forward()).
  at::Tensor forward_logits(const Input& input);
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;

  const Config& config() const { return cfg_; }
  const ImageConfig& image_config() const { return image_cfg_; }
  VisionTower& vision() { return vision_; }
  nn::CausalLM& language_model() { return lm_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }
  const std::string& checkpoint_dir() const { return dir_; }
  Flavor flavor() const { return flavor_; }
  // "visual.*" / "lm.*" (checkpoint_to_module's names) -> the module path in transformers' model: PEFT's keys.
  std::optional<std::string> peft_module_name(const std::string& ours) const;

 protected:
  Prepared prepare_one(const GenerationRequest& request) override;
  nn::GenerationBackend& backend() override { return *backend_; }

 private:
  Flavor flavor_;
  std::string dir_;
  Config cfg_;
  ImageConfig image_cfg_;
  nn::GenerationConfig gen_defaults_;
  int default_max_new_tokens_ = 512;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  VisionTower vision_{nullptr};
  nn::CausalLM lm_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
};

}  // namespace mvb::qwen2_vl
