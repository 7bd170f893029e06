#include "medvlmbench/nn/transformer.h"

#include <ATen/ATen.h>

#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"

namespace mvb::nn {

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t d, int64_t h, bool bias) : dim(d), heads(h) {
  MVB_CHECK(h > 0 && d % h == 0, "attention width ", d, " is not divisible by ", h, " heads");
  q_proj = register_module("q_proj", Linear(d, d, bias));
  k_proj = register_module("k_proj", Linear(d, d, bias));
  v_proj = register_module("v_proj", Linear(d, d, bias));
  out_proj = register_module("out_proj", Linear(d, d, bias));
}

namespace {
// [B, L, D] -> [B, heads, L, D/heads]
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}
}  // namespace

at::Tensor MultiHeadAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask, bool causal) {
  at::Tensor q = split_heads(q_proj->forward(x), heads);
  at::Tensor k = split_heads(k_proj->forward(x), heads);
  at::Tensor v = split_heads(v_proj->forward(x), heads);
  at::Tensor o = compat::scaled_dot_product_attention(q, k, v, mask, causal);
  return out_proj->forward(o.transpose(1, 2).reshape({x.size(0), x.size(1), dim}));
}

at::Tensor MultiHeadAttentionImpl::forward_cross(const at::Tensor& q_in, const at::Tensor& kv_in,
                                                 const at::Tensor& mask) {
  at::Tensor q = split_heads(q_proj->forward(q_in), heads);
  at::Tensor k = split_heads(k_proj->forward(kv_in), heads);
  at::Tensor v = split_heads(v_proj->forward(kv_in), heads);
  at::Tensor o = compat::scaled_dot_product_attention(q, k, v, mask, false);
  return out_proj->forward(o.transpose(1, 2).reshape({q_in.size(0), q_in.size(1), dim}));
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden, Activation a, bool bias) : act(a) {
  fc1 = register_module("fc1", Linear(dim, hidden, bias));
  fc2 = register_module("fc2", Linear(hidden, dim, bias));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return fc2->forward(activate(fc1->forward(x), act)); }

TransformerLayerImpl::TransformerLayerImpl(const TransformerLayerOptions& o) : opts(o) {
  self_attn = register_module("self_attn", MultiHeadAttention(o.dim, o.heads, o.qkv_bias));
  layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(o.eps)));
  mlp = register_module("mlp", Mlp(o.dim, o.mlp_dim, o.act));
  layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(o.eps)));
}

at::Tensor TransformerLayerImpl::forward(const at::Tensor& x, const at::Tensor& mask, bool causal) {
  if (opts.pre_norm) {
    at::Tensor h = x + self_attn->forward(layer_norm1->forward(x), mask, causal);
    return h + mlp->forward(layer_norm2->forward(h));
  }
  at::Tensor h = layer_norm1->forward(x + self_attn->forward(x, mask, causal));
  return layer_norm2->forward(h + mlp->forward(h));
}

TransformerEncoderImpl::TransformerEncoderImpl(const TransformerLayerOptions& o, int64_t n) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < n; ++i) {
    typed_layers.push_back(TransformerLayer(o));
    layers->push_back(typed_layers.back());
  }
}

at::Tensor TransformerEncoderImpl::forward(at::Tensor x, const at::Tensor& mask, bool causal) {
  for (auto& layer : typed_layers) x = layer->forward(x, mask, causal);
  return x;
}

at::Tensor additive_padding_mask(const at::Tensor& attention_mask, at::ScalarType dtype) {
  // The dtype's lowest value, as transformers uses (not -inf, so fully masked rows stay finite).
  const double low = dtype == at::kHalf       ? -65504.0
                     : dtype == at::kBFloat16 ? -3.3895313892515355e38
                                              : static_cast<double>(std::numeric_limits<float>::lowest());
  at::Tensor keep = attention_mask.to(at::kBool).unsqueeze(1).unsqueeze(2);
  return at::zeros(keep.sizes(), attention_mask.options().dtype(dtype)).masked_fill(keep.logical_not(), low);
}

}  // namespace mvb::nn
