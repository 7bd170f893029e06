// InternViT and the InternVL projector as transformers' InternVLVisionModel / InternVLModel compute
// them, under the checkpoints' own module names:
//
//   vision_tower
//     embeddings.cls_token [1, 1, D], embeddings.mask_token (use_mask_token; unused at inference),
//     embeddings.patch_embeddings.projection (Conv2d patch x patch, stride patch, with bias),
//     embeddings.position_embeddings [1, patches + 1, D] (use_absolute_position_embeddings)
//     encoder.layer.N: layernorm_before -> attention (q_proj/k_proj/v_proj [bias: attention_bias],
//       q_norm/k_norm RMSNorm over D when use_qk_norm, eager softmax, projection_layer) * lambda_1 + x;
//       layernorm_after -> mlp (fc1 -> act -> fc2) * lambda_2 + x. Norms: LayerNorm or RMSNorm (norm_type).
//     layernorm (a final LayerNorm only when use_mean_pooling is false)
//   multi_modal_projector: layer_norm (LayerNorm eps 1e-5) -> linear_1 -> act -> linear_2
//
// image_features(): the selected hidden state (vision_feature_layer -1 = last_hidden_state, else
// hidden_states[k] with 0 = the embeddings) without the class token, as a square grid, pixel-shuffled
// by 1 / downsample_ratio exactly as InternVLModel.pixel_shuffle, then projected:
// [tiles, 3, S, S] -> [tiles, image_seq_length, text hidden].
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <vector>

#include "medvlmbench/models/internvl/config.h"
#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::internvl {

// LayerNorm (weight, bias) or RMSNorm (weight only; normalised in float32, cast back, then scaled).
class VisionNormImpl : public torch::nn::Module {
 public:
  VisionNormImpl(int64_t dim, bool rms, double eps);
  at::Tensor forward(const at::Tensor& x);
  bool rms;
  double eps;
  at::Tensor weight, bias;
};
TORCH_MODULE(VisionNorm);

class VisionAttentionImpl : public torch::nn::Module {
 public:
  explicit VisionAttentionImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);  // [B, S, D]
  VisionConfig cfg;
  nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, projection_layer{nullptr};
  VisionNorm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(VisionAttention);

class VisionMlpImpl : public torch::nn::Module {
 public:
  explicit VisionMlpImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  nn::Linear fc1{nullptr}, fc2{nullptr};
  nn::Activation act;
};
TORCH_MODULE(VisionMlp);

class VisionLayerImpl : public torch::nn::Module {
 public:
  explicit VisionLayerImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  VisionAttention attention{nullptr};
  VisionMlp mlp{nullptr};
  VisionNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  at::Tensor lambda_1, lambda_2;
};
TORCH_MODULE(VisionLayer);

class VisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit VisionEmbeddingsImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& pixel_values);  // [B, 3, S, S] -> [B, 1 + patches, D]
  VisionConfig cfg;
  at::Tensor cls_token, mask_token, position_embeddings;
  torch::nn::Conv2d projection{nullptr};  // patch_embeddings.projection
};
TORCH_MODULE(VisionEmbeddings);

class VisionModelImpl : public torch::nn::Module {
 public:
  explicit VisionModelImpl(const VisionConfig& c);
  // hidden_states[layer] (0 = embeddings, num_layers = the last layer's output; negative counts from
  // the end), or with layer == -1 the last_hidden_state (after the final layernorm when there is one).
  at::Tensor hidden_state(const at::Tensor& pixel_values, int64_t layer);
  VisionConfig cfg;
  VisionEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};  // registered as encoder.layer
  std::vector<VisionLayer> typed_layers;
  VisionNorm layernorm{nullptr};  // when !use_mean_pooling
};
TORCH_MODULE(VisionModel);

class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(int64_t in_dim, int64_t text_dim, nn::Activation act);
  at::Tensor forward(const at::Tensor& x);
  VisionNorm layer_norm{nullptr};
  nn::Linear linear_1{nullptr}, linear_2{nullptr};
  nn::Activation act;
};
TORCH_MODULE(Projector);

// InternVLModel.pixel_shuffle: [B, W, H, C] -> [B, W / n, H / n, C * n^2] for scale 1 / n.
at::Tensor pixel_shuffle(const at::Tensor& features, int64_t n);

// vision_tower + multi_modal_projector (the names under "model." in the checkpoints).
class VisionStackImpl : public torch::nn::Module {
 public:
  VisionStackImpl(const Config& c, int64_t text_hidden);
  // [T, 3, S, S] -> [T, tokens, text hidden], at most 4 tiles per pass.
  at::Tensor image_features(const at::Tensor& pixel_values);
  Config cfg;
  VisionModel vision_tower{nullptr};
  Projector multi_modal_projector{nullptr};
};
TORCH_MODULE(VisionStack);

}  // namespace mvb::internvl
