// Shared machinery of the image/text contrastive models (CLIP, PLIP, PubMedCLIP, SigLIP, MedSigLIP,
// BioMedCLIP): dtype choice, tokenised text batches, a checkpoint fingerprint for feature caches and
// the hooks the LP / LoRA usages need (trainable image features, the vision tower to adapt).
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/model.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb {

// Token ids padded to the longest text: input_ids [T, L] int64, attention_mask [T, L] int64 (1 = token).
struct TextBatch {
  at::Tensor input_ids, attention_mask;
};

// Tokenises like `tokenizer(texts, padding=True, truncation=True, max_length=max_len)`: special
// tokens added, over-long texts cut to max_len keeping the final special token, padded with the pad
// id (or `pad_id` when >= 0). pad_to > 0 pads every row to exactly that length (padding="max_length").
TextBatch tokenize_batch(const text::Tokenizer& tok, const std::vector<std::string>& texts, int64_t max_len,
                         int64_t pad_id = -1, int64_t pad_to = 0);

class ContrastiveTowers : public ContrastiveModel {
 public:
  explicit ContrastiveTowers(const ModelSpec& spec);

  // Projected image features (get_image_features), WITH autograd when grad mode is on: the LoRA usages
  // train through it. encode_image() is the no-grad fp32 version of this.
  virtual at::Tensor image_features(const at::Tensor& pixel_values) = 0;
  // Projected text features for already tokenised text (no normalisation).
  virtual at::Tensor text_features(const TextBatch& batch) = 0;
  virtual TextBatch tokenize(const std::vector<std::string>& texts) const = 0;
  // The module LoRA adapts (the vision tower) and the module holding everything.
  virtual torch::nn::Module& vision_tower() = 0;
  virtual torch::nn::Module& root() = 0;
  // The name a module of vision_tower() (our path) has in the published PyTorch tower that the
  // reference wraps with PEFT's get_peft_model, so LoRA adapters can be saved and loaded in PEFT's
  // format; nullopt where no mapping is implemented (then only our own adapter file is written).
  virtual std::optional<std::string> peft_module_name(const std::string& /*ours*/) const { return std::nullopt; }
  // The width of the projected (joint) embedding space.
  int64_t embed_dim() const { return embed_dim_; }
  double logit_scale() const override { return logit_scale_; }

  at::Tensor encode_image(const at::Tensor& pixel_values) override;
  at::Tensor encode_text(const std::vector<std::string>& texts) override;
  const ImageTransform& transform() const override { return transform_; }
  c10::Device device() const override { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  // logits_per_image [N, T] from unnormalised features, as the model's forward computes it.
  at::Tensor logits_per_image(const at::Tensor& image_features, const at::Tensor& text_features) const;

  // Identifies the weights for caches: architecture name, weight file names, sizes and hashes of their
  // first and last MiB, and the config files' content.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& checkpoint_dir() const { return checkpoint_dir_; }
  nlohmann::json describe() const override;

 protected:
  // Moves the root module to the spec's device and dtype, sets eval mode, computes the fingerprint.
  void finish_setup(const std::string& architecture);

  ModelSpec spec_;
  std::string checkpoint_dir_;
  c10::Device device_;
  at::ScalarType dtype_ = at::kFloat;
  ImageTransform transform_;
  std::string architecture_;
  std::string fingerprint_;
  // Set by each model's constructor: exp() of the learned scale (clamped where the model clamps it).
  double logit_scale_ = 1.0;
  int64_t embed_dim_ = 0;
};

// Where the model's weights are: spec.model_path itself, or, for a run folder written by the lp /
// LoRA usages (it holds mvb_head.json), the base checkpoint recorded there.
std::string resolve_checkpoint_dir(const ModelSpec& spec);
// fp32 on CPU; bf16 on CUDA unless spec.dtype says otherwise (fp32, fp16, bf16).
at::ScalarType resolve_dtype(const ModelSpec& spec);
// Reads a JSON file, with an error naming it.
nlohmann::json read_json_file(const std::string& path);
// The checkpoint's preprocessor_config.json (CLIPImageProcessor, SiglipImageProcessor ...) as an
// ImageTransform, or `defaults` when the file is absent.
ImageTransform transform_from_preprocessor_config(const std::string& path, ImageTransform defaults);
// The side of the square image a transform produces (crop, else the resize target).
int transform_output_size(const ImageTransform& t);
// Stable hex fingerprint of the files (see ContrastiveTowers::fingerprint()).
std::string fingerprint_files(const std::vector<std::string>& files, const std::string& salt);
// Builds the registered model spec.name and returns it as ContrastiveTowers (the LP / LoRA hooks);
// a usage error when that model is not a contrastive image/text model.
std::unique_ptr<ContrastiveTowers> make_contrastive_towers(const ModelSpec& spec);

}  // namespace mvb
