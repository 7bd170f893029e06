#include "medvlmbench/nn/transformer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/nn/blas_kernels.h"

namespace mvb::nn {

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t d, int64_t h, bool bias, QkvLayout l)
    : dim(d), heads(h), layout(l) {
  MVB_CHECK(h > 0 && d % h == 0, "attention width ", d, " is not divisible by ", h, " heads");
  switch (layout) {
    case QkvLayout::kSeparate:
      q_proj = register_module("q_proj", Linear(d, d, bias));
      k_proj = register_module("k_proj", Linear(d, d, bias));
      v_proj = register_module("v_proj", Linear(d, d, bias));
      break;
    case QkvLayout::kFusedLinear:
      qkv = register_module("qkv", Linear(d, 3 * d, bias));
      break;
    case QkvLayout::kFusedParameter:
      in_proj_weight = register_parameter("in_proj_weight", at::empty({3 * d, d}));
      if (bias) in_proj_bias = register_parameter("in_proj_bias", at::zeros({3 * d}));
      break;
  }
  out_proj = register_module("out_proj", Linear(d, d, bias));
}

at::Tensor MultiHeadAttentionImpl::project(const at::Tensor& x, int64_t part, int64_t count) {
  if (layout == QkvLayout::kSeparate) {
    MVB_CHECK(count == 1, "separate q/k/v projections are applied one at a time");
    return (part == 0 ? q_proj : part == 1 ? k_proj : v_proj)->forward(x);
  }
  const at::Tensor& w = layout == QkvLayout::kFusedLinear ? qkv->weight : in_proj_weight;
  const at::Tensor& b = layout == QkvLayout::kFusedLinear ? qkv->bias : in_proj_bias;
  if (layout == QkvLayout::kFusedLinear && part == 0 && count == 3) return qkv->forward(x);  // LoRA, oneDNN
  MVB_CHECK(layout == QkvLayout::kFusedParameter || !qkv->has_lora(),
            "a LoRA-adapted fused qkv projection cannot be split across query and key/value inputs");
  const int64_t from = part * dim, rows = count * dim;
  return at::linear(x, w.narrow(0, from, rows), b.defined() ? b.narrow(0, from, rows) : at::Tensor());
}

at::Tensor MultiHeadAttentionImpl::output(const at::Tensor& x) {
  // torch.nn.MultiheadAttention's forward reads out_proj.weight / out_proj.bias itself instead of
  // calling out_proj, so a PEFT LoRA adapter on that out_proj (the reference targets it: it is an
  // nn.Linear) changes nothing unless merged into the weight. Doing the same keeps SigLIP's pooling
  // head equal to PEFT's, merged or not.
  if (layout == QkvLayout::kFusedParameter) return at::linear(x, out_proj->weight, out_proj->bias);
  return out_proj->forward(x);
}

namespace {
// [B, L, D] -> [B, heads, L, D/heads]
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// softmax(q k^T / sqrt(d) + mask) v over [B, heads, L, d] views. With autograd on, or on LibTorch 2.x
// (fused kernels), this is compat::scaled_dot_product_attention. Inference on 1.13 takes the same
// steps with fewer passes: the scale goes into q (3x smaller than the scores when L ~ 200, d = 64), and
// the causal/padding masks and the fp32 softmax work in place on the scores.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, bool causal) {
#if !MVB_TORCH_AT_LEAST(2, 0)
  if (!causal && blas_attention_applies(q, k, v, mask))
    return blas_attention(q, k, v, mask, 1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (!at::GradMode::is_enabled()) {
    at::Tensor scores = at::matmul(q * (1.0 / std::sqrt(static_cast<double>(q.size(-1)))), k.transpose(-2, -1));
    if (causal) {
      const int64_t lq = q.size(-2), lk = k.size(-2);
      at::Tensor drop = at::ones({lq, lk}, q.options().dtype(at::kBool)).triu(lk - lq + 1);
      scores.masked_fill_(drop, -std::numeric_limits<float>::infinity());
    }
    if (mask.defined()) scores.add_(mask);
    // fp32 softmax for half inputs, as HF's eager attention does.
    at::Tensor probs = scores.scalar_type() == at::kFloat ? scores.softmax(-1)
                                                          : at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return at::matmul(probs, v);
  }
#endif
  return compat::scaled_dot_product_attention(q, k, v, mask, causal);
}

// Adds `residual` to the freshly computed `branch` (in place when no autograd graph is recorded).
at::Tensor add_residual(at::Tensor branch, const at::Tensor& residual) {
  return at::GradMode::is_enabled() ? branch + residual : branch.add_(residual);
}
}  // namespace

at::Tensor MultiHeadAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask, bool causal) {
  at::Tensor q, k, v;
  if (layout == QkvLayout::kSeparate) {
    q = split_heads(project(x, 0, 1), heads);
    k = split_heads(project(x, 1, 1), heads);
    v = split_heads(project(x, 2, 1), heads);
  } else {
    // [B, L, 3D] -> 3 x [B, heads, L, D/heads], in timm's and torch MHA's q, k, v order.
    auto parts = project(x, 0, 3).view({x.size(0), x.size(1), 3, heads, dim / heads}).permute({2, 0, 3, 1, 4});
    q = parts[0], k = parts[1], v = parts[2];
  }
  at::Tensor o = attend(q, k, v, mask, causal);
  return output(o.transpose(1, 2).reshape({x.size(0), x.size(1), dim}));
}

at::Tensor MultiHeadAttentionImpl::forward_cross(const at::Tensor& q_in, const at::Tensor& kv_in,
                                                 const at::Tensor& mask) {
  at::Tensor q = split_heads(project(q_in, 0, 1), heads);
  at::Tensor k, v;
  if (layout == QkvLayout::kSeparate) {
    k = split_heads(project(kv_in, 1, 1), heads);
    v = split_heads(project(kv_in, 2, 1), heads);
  } else {
    auto kv = project(kv_in, 1, 2).view({kv_in.size(0), kv_in.size(1), 2, heads, dim / heads}).permute({2, 0, 3, 1, 4});
    k = kv[0], v = kv[1];
  }
  at::Tensor o = attend(q, k, v, mask, /*causal=*/false);
  return output(o.transpose(1, 2).reshape({q_in.size(0), q_in.size(1), dim}));
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden, Activation a, bool bias) : act(a) {
  fc1 = register_module("fc1", Linear(dim, hidden, bias));
  fc2 = register_module("fc2", Linear(hidden, dim, bias));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  at::Tensor h = fc1->forward(x);
  if (at::GradMode::is_enabled()) return fc2->forward(activate(h, act));
  // Inference: the hidden activation (4x wider than the model) is rewritten in place instead of
  // allocating one tensor per elementwise step.
  switch (act) {
    case Activation::kQuickGelu: {
      at::Tensor gate = h * 1.702;
      h.mul_(gate.sigmoid_());
      break;
    }
    case Activation::kGelu:
      at::gelu_(h);
      break;
    case Activation::kGeluTanh:
      at::gelu_(h, "tanh");
      break;
    case Activation::kRelu:
      h.relu_();
      break;
    case Activation::kSilu:
      at::silu_(h);
      break;
  }
  return fc2->forward(h);
}

TransformerLayerImpl::TransformerLayerImpl(const TransformerLayerOptions& o) : opts(o) {
  self_attn = register_module("self_attn", MultiHeadAttention(o.dim, o.heads, o.qkv_bias, o.qkv_layout));
  layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(o.eps)));
  mlp = register_module("mlp", Mlp(o.dim, o.mlp_dim, o.act));
  layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(o.eps)));
}

at::Tensor TransformerLayerImpl::forward(const at::Tensor& x, const at::Tensor& mask, bool causal) {
  if (opts.pre_norm) {
    at::Tensor h = add_residual(self_attn->forward(layer_norm1->forward(x), mask, causal), x);
    return add_residual(mlp->forward(layer_norm2->forward(h)), h);
  }
  at::Tensor h = layer_norm1->forward(add_residual(self_attn->forward(x, mask, causal), x));
  return layer_norm2->forward(add_residual(mlp->forward(h), h));
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
