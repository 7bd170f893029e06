// The BLIP / BLIP-2 vision transformer as transformers' BlipVisionModel and Blip2VisionModel compute
// it, under their module names (relative to "vision_model."):
//
//   embeddings.class_embedding [1, 1, D], embeddings.patch_embedding (Conv2d with bias),
//   embeddings.position_embedding [1, 1 + patches, D]      (nn.Parameters, not Embedding modules)
//   encoder.layers.N.layer_norm1 -> self_attn.qkv (one fused Linear) -> self_attn.projection, residual;
//   encoder.layers.N.layer_norm2 -> mlp.fc1 -> act -> mlp.fc2, residual
//   post_layernorm: applied to every token (last_hidden_state) and, a second time, to the class token
//                   (pooler_output), as transformers does.
//
// BlipVisionConfig has a qkv bias always; Blip2VisionConfig only when qkv_bias (transformers stores it
// as qkv.bias with a zero key part; LAVIS checkpoints hold q_bias and v_bias instead, which
// blip_vision_checkpoint_name() folds into qkv.bias). Positions are not interpolated: the image must be
// config.image_size square (what both processors produce).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/linear.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::blip {

struct VisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t image_size = 384;
  int64_t patch_size = 16;
  int64_t num_channels = 3;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "gelu";
  bool qkv_bias = true;
  // post_layernorm's epsilon; < 0 = layer_norm_eps (transformers). MiniGPT-4 / XrayGPT put LAVIS's
  // ln_vision there, a plain nn.LayerNorm (1e-5) after the EVA blocks' 1e-6 ones.
  double post_layernorm_eps = -1;

  // transformers' BlipVisionConfig defaults (ViT-B/16 at 384, eps 1e-5, qkv bias) read from `j` (the
  // "vision_config" object of a BlipConfig, or a BlipVisionConfig config.json itself).
  static VisionConfig blip(const nlohmann::json& j, const std::string& where);
  // Blip2VisionConfig defaults (EVA ViT-g/14 at 224: 1408 wide, 39 layers, 16 heads, eps 1e-6,
  // qkv_bias true).
  static VisionConfig blip2(const nlohmann::json& j, const std::string& where);
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

class VisionAttentionImpl : public torch::nn::Module {
 public:
  explicit VisionAttentionImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);  // [B, L, D], bidirectional, no mask
  int64_t heads;
  nn::Linear qkv{nullptr}, projection{nullptr};
};
TORCH_MODULE(VisionAttention);

class VisionMlpImpl : public torch::nn::Module {
 public:
  explicit VisionMlpImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  nn::Activation act;
  nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(VisionMlp);

class VisionLayerImpl : public torch::nn::Module {
 public:
  explicit VisionLayerImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  VisionAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  VisionMlp mlp{nullptr};
};
TORCH_MODULE(VisionLayer);

struct VisionOutput {
  at::Tensor last_hidden_state;  // [B, 1 + patches, D], post_layernorm applied
  at::Tensor pooler_output;      // [B, D]: post_layernorm(last_hidden_state[:, 0])
};

class VisionModelImpl : public torch::nn::Module {
 public:
  explicit VisionModelImpl(const VisionConfig& c);
  // pixel_values [B, 3, image_size, image_size] (any float dtype; cast to the weights' dtype).
  VisionOutput forward(const at::Tensor& pixel_values);
  VisionConfig cfg;
  // Registered on plain child modules "embeddings" and "encoder" so that the names match transformers'.
  at::Tensor class_embedding, position_embedding;  // embeddings.*
  torch::nn::Conv2d patch_embedding{nullptr};      // embeddings.patch_embedding
  torch::nn::ModuleList layers{nullptr};           // encoder.layers
  std::vector<VisionLayer> typed_layers;
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(VisionModel);

// LAVIS-layout checkpoints (XrayGPT's EVA ViT-g, original BLIP-2) keep the qkv bias as two tensors,
// "<...>self_attn.q_bias" and "<...>self_attn.v_bias": replaces each such pair in `tensors` by
// "<...>self_attn.qkv.bias" = cat(q_bias, zeros, v_bias), as transformers' BLIP-2 conversion script
// does. A lone q_bias or v_bias is an error naming `source`.
void fuse_qkv_bias(nn::TensorMap& tensors, const std::string& source);

// The tensors of `sd` named `prefix` + X ("vision_model." in BlipFor* / Blip2For* checkpoints, "" for a
// saved Blip(2)VisionModel), as X, with q_bias/v_bias fused (above). position_ids buffers are dropped.
nn::TensorMap vision_weights(const io::StateDict& sd, const std::string& prefix);

// Builds the tower for `cfg` and loads it from `sd` under `prefix`, strictly (every parameter found with
// its shape, nothing left over); errors name sd.source().
VisionModel load_vision_model(const VisionConfig& cfg, const io::StateDict& sd, const std::string& prefix);

}  // namespace mvb::blip
