// Supervised fine-tuning of the local generative VLMs (`medvlmbench train --task vqa|caption`): what
// the generic trainer (src/train/generative_trainer.cpp) needs from each architecture, implemented
// beside it in src/train/ (llava_sft.cpp, qwen_sft.cpp) over the models' public pieces.
//
// Per family, as the reference (GENERATIVE.md section 2) or LLaMA-Factory trains it:
//   LLaVA-1.5 / LLaVA-Med   conversation --version (v1 = vicuna_v1, llama_2 / mistral_instruct), labels
//                           masked by the reference's preprocess_v1 / preprocess_llama_2 token-count
//                           heuristic (a tokenization mismatch masks the whole sample, as there), image
//                           positions and padding -100; LoRA on find_lora_modules' targets (every
//                           nn.Linear outside mm_projector and lm_head: vision tower iff V, decoder
//                           layers iff L), projector fully trained iff M; loss = mean over a
//                           micro-batch's label tokens (its model takes no num_items_in_batch).
//   Qwen2-VL / Qwen2.5-VL   LLaMA-Factory's qwen2_vl template and defaults (lora_target all with the
//                           vision tower and merger frozen: every Linear of the decoder layers; prompt
//                           masked, answer + <|im_end|>\n trained); loss = sum over the accumulation
//                           window's label tokens / their count (transformers >= 4.46 with loss kwargs).
//   Lingshu                 its trainer as intended (GENERATIVE.md 3.9 bugs not copied): the question
//                           kept, prompt and image tokens masked, padding -100, --tune_modules honoured;
//                           LoRA on self_attn q/k/v of the decoder (L) and visual blocks' attn.qkv (V),
//                           visual.merger.mlp fully trained (M); images 224 x 224.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/core/sample.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::train {

inline constexpr int64_t kIgnoreIndex = -100;

// One training example as the model's collator sees it before padding.
struct SftExample {
  std::vector<int64_t> input_ids;             // the family's own placeholder ids for images (LLaVA: one -200 each)
  std::vector<int64_t> labels;                // same length; kIgnoreIndex where the loss is masked
  std::vector<at::Tensor> pixels;             // per image, as the model's vision tower takes it
  std::vector<std::array<int64_t, 3>> grids;  // Qwen: (t, h, w) patch grid per image
  std::string text;                           // the rendered conversation (for logs and tests)
  bool fully_masked = false;                  // LLaVA's tokenization-mismatch fallback fired
};

struct SftOptions {
  std::string version = "v1";  // LLaVA's --version (conversation template)
  int64_t model_max_length = 2048;
};

enum class LossNorm { kMicroBatchMean, kWindowTokens };

// What one family trains, once LoRA (if any) is in place.
struct TrainPlan {
  std::vector<std::string> lora_modules;   // our module paths (train_root names) given adapters
  std::vector<std::string> full_prefixes;  // parameters under these train fully (e.g. the projector)
  std::string projector_prefix;            // --mm_projector_lr group
  std::string vision_prefix;               // --vision_tower_lr group
  std::string note;                        // how the targets were chosen, for the log and run.json
};

class TrainableVlm {
 public:
  virtual ~TrainableVlm() = default;
  virtual std::string family() const = 0;  // "llava", "qwen2_vl", "lingshu"
  virtual SftExample example(const std::string& prompt, const std::string& answer, const std::vector<ImageRef>& images,
                             const SftOptions& o) = 0;
  // Sum of the next-token cross-entropy over the labels != -100 of a right-padded batch (autograd on),
  // and how many label tokens it covered.
  std::pair<at::Tensor, int64_t> loss_sum(const std::vector<SftExample>& batch);
  // The model's forward over a right-padded batch: logits [B, L, V] (float32) and the labels [B, L]
  // aligned with them (image positions and padding -100).
  virtual std::pair<at::Tensor, at::Tensor> forward_batch(const std::vector<SftExample>& batch) = 0;
  virtual LossNorm loss_norm() const = 0;
  // The reference's (or LLaMA-Factory's) selection for --tune_modules; lora: whether --peft lora.
  virtual TrainPlan plan(const std::string& tune_modules, bool lora) = 0;
  // Every module and parameter the trainer sees, under our names.
  virtual torch::nn::Module& root() = 0;
  // Our module path -> the module path in the published PyTorch model (PEFT's key names; nullopt: none).
  virtual std::optional<std::string> peft_name(const std::string& ours) const = 0;
  // Whether a parameter sits in an nn.LayerNorm (Trainer's weight-decay exclusion).
  virtual bool in_layernorm(const std::string& param) const = 0;
  virtual bool llava_decay_rules() const { return false; }
  // Writes what the reference's save() writes beside the adapter (LLaVA: config.json with the training
  // settings, non_lora_trainables.bin).
  virtual void save_extras(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& non_lora) = 0;
  virtual std::string base_model_path() const = 0;
  virtual c10::Device device() const = 0;
  virtual at::ScalarType dtype() const = 0;
};

// The trainable view of a model the registry built (LLaVA-1.5, LLaVA-Med, Qwen2-VL, Qwen25-VL,
// Lingshu); an mvb::UsageError naming the model when it cannot be fine-tuned here.
std::unique_ptr<TrainableVlm> make_trainable(Model& model, const std::string& name);

// Puts adapters on the named Linear modules of `root` (throws naming one that is not a Linear).
int add_lora(torch::nn::Module& root, const std::vector<std::string>& modules, const nn::LoraConfig& cfg);

// Right-padded next-token loss shared by the families: logits [B, L, V] (float32), labels [B, L]
// -> (sum over labels != -100 after the shift, count).
std::pair<at::Tensor, int64_t> shifted_ce_sum(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace mvb::train
