// Transformer building blocks shared by every tower (CLIP/SigLIP vision and text, timm ViT, BERT).
// Module names follow Hugging Face CLIP (self_attn.{q,k,v,out}_proj, layer_norm1/2, mlp.fc1/fc2);
// checkpoints in other layouts are renamed by the model that loads them.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::nn {

// How the q/k/v projections are stored. It matters beyond loading: PEFT's LoRA adapts every
// nn.Linear, so HF's three q/k/v Linears get three adapters, timm's one fused qkv Linear gets one
// (rank r over all three), and torch.nn.MultiheadAttention's in_proj_weight (a bare parameter) none.
enum class QkvLayout {
  kSeparate,       // q_proj, k_proj, v_proj (Hugging Face CLIP/SigLIP/BERT)
  kFusedLinear,    // qkv: Linear(d, 3d) (timm ViT)
  kFusedParameter  // in_proj_weight [3d, d], in_proj_bias [3d] (torch.nn.MultiheadAttention)
};

// Multi-head attention. `mask` is additive, broadcastable to [B, heads, Lq, Lk] (or undefined);
// `causal` adds a lower-triangular mask.
class MultiHeadAttentionImpl : public torch::nn::Module {
 public:
  MultiHeadAttentionImpl(int64_t dim, int64_t heads, bool bias = true, QkvLayout layout = QkvLayout::kSeparate);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {}, bool causal = false);
  // Queries from `q_in`, keys and values from `kv_in` (attention pooling heads).
  at::Tensor forward_cross(const at::Tensor& q_in, const at::Tensor& kv_in, const at::Tensor& mask = {});

  int64_t dim, heads;
  QkvLayout layout;
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr};  // kSeparate
  Linear qkv{nullptr};                                       // kFusedLinear
  at::Tensor in_proj_weight, in_proj_bias;                   // kFusedParameter
  Linear out_proj{nullptr};

 private:
  // Rows [part * dim, (part + count) * dim) of the fused projection applied to x (part 0 q, 1 k, 2 v).
  at::Tensor project(const at::Tensor& x, int64_t part, int64_t count);
  // out_proj applied to the attended values (its LoRA ignored in the kFusedParameter layout, as torch
  // MHA + PEFT do).
  at::Tensor output(const at::Tensor& x);
};
TORCH_MODULE(MultiHeadAttention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden, Activation act, bool bias = true);
  at::Tensor forward(const at::Tensor& x);
  Activation act;
  Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

struct TransformerLayerOptions {
  int64_t dim = 768;
  int64_t heads = 12;
  int64_t mlp_dim = 3072;
  Activation act = Activation::kGelu;
  double eps = 1e-5;
  bool pre_norm = true;  // CLIP/SigLIP/ViT: x + f(LN(x)); BERT (post-norm): LN(x + f(x))
  bool qkv_bias = true;
  QkvLayout qkv_layout = QkvLayout::kSeparate;
};

class TransformerLayerImpl : public torch::nn::Module {
 public:
  explicit TransformerLayerImpl(const TransformerLayerOptions& o);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {}, bool causal = false);
  TransformerLayerOptions opts;
  MultiHeadAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(TransformerLayer);

// A stack of layers registered as "layers.N".
class TransformerEncoderImpl : public torch::nn::Module {
 public:
  TransformerEncoderImpl(const TransformerLayerOptions& o, int64_t num_layers);
  at::Tensor forward(at::Tensor x, const at::Tensor& mask = {}, bool causal = false);
  torch::nn::ModuleList layers{nullptr};
  std::vector<TransformerLayer> typed_layers;
};
TORCH_MODULE(TransformerEncoder);

// [B, L] 1/0 attention mask -> additive [B, 1, 1, L] mask in `dtype` (0 keep, large negative drop).
at::Tensor additive_padding_mask(const at::Tensor& attention_mask, at::ScalarType dtype);

}  // namespace mvb::nn
