#include "medvlmbench/nn/vit.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

AttentionPoolHeadImpl::AttentionPoolHeadImpl(const TransformerLayerOptions& o) {
  probe = register_parameter("probe", at::randn({1, 1, o.dim}));
  // HF SigLIP's head is a torch.nn.MultiheadAttention: in_proj_weight is no Linear, so PEFT never adapts it.
  attention =
      register_module("attention", MultiHeadAttention(o.dim, o.heads, /*bias=*/true, QkvLayout::kFusedParameter));
  layernorm = register_module("layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(o.eps)));
  mlp = register_module("mlp", Mlp(o.dim, o.mlp_dim, o.act));
}

at::Tensor AttentionPoolHeadImpl::forward(const at::Tensor& tokens) {
  at::Tensor q = probe.expand({tokens.size(0), 1, probe.size(2)});
  at::Tensor h = attention->forward_cross(q, tokens);
  h = h + mlp->forward(layernorm->forward(h));
  return h.select(1, 0);
}

VisionEmbeddingsImpl::VisionEmbeddingsImpl(const VisionTransformerOptions& o) {
  const int64_t d = o.layer.dim;
  const int64_t patches = (o.image_size / o.patch_size) * (o.image_size / o.patch_size);
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels, d, o.patch_size).stride(o.patch_size).bias(o.patch_bias)));
  if (o.class_token) class_embedding = register_parameter("class_embedding", at::randn({d}));
  position_embedding = register_module("position_embedding",
                                       Embedding(patches + (o.class_token ? 1 : 0), d, o.position_embedding_module));
}

at::Tensor VisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) {
  const at::Tensor& w = patch_embedding->weight;
  at::Tensor x = patch_embedding->forward(pixel_values.to(w.scalar_type())).flatten(2).transpose(1, 2);
  if (class_embedding.defined())
    x = at::cat({class_embedding.view({1, 1, -1}).expand({x.size(0), 1, x.size(2)}), x}, 1);
  // HF adds position_embedding(position_ids) with position_ids = arange(num_positions): the whole table.
  return x + position_embedding->table().unsqueeze(0);
}

VisionTransformerImpl::VisionTransformerImpl(const VisionTransformerOptions& o) : opts(o) {
  MVB_CHECK(o.patch_size > 0 && o.image_size % o.patch_size == 0, "image_size ", o.image_size,
            " is not a multiple of patch_size ", o.patch_size);
  const int64_t d = o.layer.dim;
  // Registration order mirrors the HF modules so named_parameters() reads naturally.
  embeddings = register_module("embeddings", VisionEmbeddings(o));
  if (o.pre_norm)
    pre_layrnorm =
        register_module("pre_layrnorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(o.layer.eps)));
  encoder = register_module("encoder", TransformerEncoder(o.layer, o.num_layers));
  if (o.final_norm)
    post_layernorm =
        register_module("post_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(o.layer.eps)));
  if (o.attention_pool) head = register_module("head", AttentionPoolHead(o.layer));
}

namespace {
void check_pixels(const at::Tensor& pixel_values, const VisionTransformerOptions& opts) {
  MVB_CHECK(
      pixel_values.dim() == 4 && pixel_values.size(2) == opts.image_size && pixel_values.size(3) == opts.image_size,
      "vision tower expects [N, ", opts.channels, ", ", opts.image_size, ", ", opts.image_size, "] pixels; got ",
      pixel_values.sizes());
}
}  // namespace

at::Tensor VisionTransformerImpl::hidden_state(const at::Tensor& pixel_values, int64_t index) {
  check_pixels(pixel_values, opts);
  const int64_t layers = opts.num_layers;
  const int64_t k = index < 0 ? layers + 1 + index : index;
  MVB_CHECK(k >= 0 && k <= layers, "vision hidden state ", index, " is out of range for ", layers, " layers");
  at::Tensor x = embeddings->forward(pixel_values);
  if (opts.pre_norm) x = pre_layrnorm->forward(x);
  for (int64_t i = 0; i < k; ++i) x = encoder->typed_layers[static_cast<size_t>(i)]->forward(x);
  return x;
}

VisionOutput VisionTransformerImpl::forward(const at::Tensor& pixel_values) {
  check_pixels(pixel_values, opts);
  at::Tensor x = embeddings->forward(pixel_values);
  if (opts.pre_norm) x = pre_layrnorm->forward(x);
  x = encoder->forward(x);
  VisionOutput out;
  if (opts.attention_pool) {
    if (opts.final_norm) x = post_layernorm->forward(x);
    out.last_hidden_state = x;
    out.pooled = head->forward(x);
  } else {
    // LayerNorm is per token, so normalising the class token alone equals normalising all then picking.
    out.last_hidden_state = x;
    out.pooled = x.select(1, 0);
    if (opts.final_norm) out.pooled = post_layernorm->forward(out.pooled);
  }
  return out;
}

}  // namespace mvb::nn
