#include "medvlmbench/models/internvl/vision.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "medvlmbench/core/error.h"

namespace mvb::internvl {

VisionNormImpl::VisionNormImpl(int64_t dim, bool r, double e) : rms(r), eps(e) {
  weight = register_parameter("weight", at::ones({dim}));
  if (!rms) bias = register_parameter("bias", at::zeros({dim}));
}

at::Tensor VisionNormImpl::forward(const at::Tensor& x) {
  if (!rms) return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
  // InternVLVisionRMSNorm: float32 statistics, cast back to the input dtype, then the weight.
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

VisionAttentionImpl::VisionAttentionImpl(const VisionConfig& c) : cfg(c) {
  const int64_t d = c.hidden_size;
  q_proj = register_module("q_proj", nn::Linear(d, d, c.attention_bias));
  k_proj = register_module("k_proj", nn::Linear(d, d, c.attention_bias));
  v_proj = register_module("v_proj", nn::Linear(d, d, c.attention_bias));
  projection_layer = register_module("projection_layer", nn::Linear(d, d, /*bias=*/true));
  if (c.use_qk_norm) {
    // InternVLVisionRMSNorm(embed_dim) with its own default eps, not layer_norm_eps.
    q_norm = register_module("q_norm", VisionNorm(d, /*rms=*/true, 1e-6));
    k_norm = register_module("k_norm", VisionNorm(d, /*rms=*/true, 1e-6));
  }
}

at::Tensor VisionAttentionImpl::forward(const at::Tensor& x) {
  const int64_t b = x.size(0), s = x.size(1), h = cfg.num_heads, hd = cfg.head_dim();
  at::Tensor q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  if (cfg.use_qk_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = q.view({b, s, h, hd}).transpose(1, 2);
  k = k.view({b, s, h, hd}).transpose(1, 2);
  v = v.view({b, s, h, hd}).transpose(1, 2);
  // eager_attention_forward: no float32 upcast of the scores (bf16 stays bf16, as transformers).
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const at::Tensor probs = at::softmax(at::matmul(q, k.transpose(2, 3)) * scale, -1);
  const at::Tensor out = at::matmul(probs, v).transpose(1, 2).reshape({b, s, cfg.hidden_size});
  return projection_layer->forward(out);
}

VisionMlpImpl::VisionMlpImpl(const VisionConfig& c) : act(nn::parse_activation(c.hidden_act)) {
  fc1 = register_module("fc1", nn::Linear(c.hidden_size, c.intermediate_size, /*bias=*/true));
  fc2 = register_module("fc2", nn::Linear(c.intermediate_size, c.hidden_size, /*bias=*/true));
}

at::Tensor VisionMlpImpl::forward(const at::Tensor& x) { return fc2->forward(nn::activate(fc1->forward(x), act)); }

VisionLayerImpl::VisionLayerImpl(const VisionConfig& c) {
  attention = register_module("attention", VisionAttention(c));
  mlp = register_module("mlp", VisionMlp(c));
  layernorm_before = register_module("layernorm_before", VisionNorm(c.hidden_size, c.rms_norm, c.layer_norm_eps));
  layernorm_after = register_module("layernorm_after", VisionNorm(c.hidden_size, c.rms_norm, c.layer_norm_eps));
  lambda_1 = register_parameter("lambda_1", at::ones({c.hidden_size}));
  lambda_2 = register_parameter("lambda_2", at::ones({c.hidden_size}));
}

at::Tensor VisionLayerImpl::forward(const at::Tensor& x) {
  // LayerScale residuals: x + lambda_1 * attn(norm(x)), then h + lambda_2 * mlp(norm(h)).
  const at::Tensor h = lambda_1 * attention->forward(layernorm_before->forward(x)) + x;
  return lambda_2 * mlp->forward(layernorm_after->forward(h)) + h;
}

VisionEmbeddingsImpl::VisionEmbeddingsImpl(const VisionConfig& c) : cfg(c) {
  cls_token = register_parameter("cls_token", at::zeros({1, 1, c.hidden_size}));
  if (c.use_mask_token) mask_token = register_parameter("mask_token", at::zeros({1, 1, c.hidden_size}));
  auto holder = std::make_shared<torch::nn::Module>();
  projection = holder->register_module(
      "projection",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size)));
  register_module("patch_embeddings", holder);
  const int64_t n = c.patches_per_side() * c.patches_per_side();
  if (c.use_absolute_position_embeddings)
    position_embeddings = register_parameter("position_embeddings", at::zeros({1, n + 1, c.hidden_size}));
}

at::Tensor VisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) {
  MVB_CHECK(pixel_values.dim() == 4 && pixel_values.size(2) == cfg.image_size && pixel_values.size(3) == cfg.image_size,
            "InternViT takes ", cfg.image_size, " x ", cfg.image_size, " tiles, got ", pixel_values.sizes());
  const at::Tensor x = projection->forward(pixel_values.to(projection->weight.scalar_type()));
  const at::Tensor patches = x.flatten(2).transpose(1, 2);  // [B, patches, D]
  at::Tensor e = at::cat({cls_token.expand({patches.size(0), -1, -1}), patches}, 1);
  // Tiles of the configured size: no position interpolation (transformers interpolates only otherwise).
  if (position_embeddings.defined()) e = e + position_embeddings;
  return e;
}

VisionModelImpl::VisionModelImpl(const VisionConfig& c) : cfg(c) {
  embeddings = register_module("embeddings", VisionEmbeddings(c));
  auto encoder = std::make_shared<torch::nn::Module>();
  layers = encoder->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    typed_layers.push_back(VisionLayer(c));
    layers->push_back(typed_layers.back());
  }
  register_module("encoder", encoder);
  if (!c.use_mean_pooling)
    layernorm = register_module("layernorm", VisionNorm(c.hidden_size, /*rms=*/false, c.layer_norm_eps));
}

at::Tensor VisionModelImpl::hidden_state(const at::Tensor& pixel_values, int64_t layer) {
  const int64_t states = cfg.num_layers + 1;
  const bool last = layer == -1;
  const int64_t index = last ? cfg.num_layers : (layer < 0 ? layer + states : layer);
  MVB_CHECK(index >= 0 && index < states, "vision feature layer ", layer, " is outside the ", states, " hidden states");
  at::Tensor h = embeddings->forward(pixel_values);
  for (int64_t i = 0; i < index; ++i) h = typed_layers[static_cast<size_t>(i)]->forward(h);
  if (last && layernorm) h = layernorm->forward(h);
  return h;
}

ProjectorImpl::ProjectorImpl(int64_t in_dim, int64_t text_dim, nn::Activation a) : act(a) {
  layer_norm = register_module("layer_norm", VisionNorm(in_dim, /*rms=*/false, 1e-5));  // nn.LayerNorm's default eps
  linear_1 = register_module("linear_1", nn::Linear(in_dim, text_dim, /*bias=*/true));
  linear_2 = register_module("linear_2", nn::Linear(text_dim, text_dim, /*bias=*/true));
}

at::Tensor ProjectorImpl::forward(const at::Tensor& x) {
  return linear_2->forward(nn::activate(linear_1->forward(layer_norm->forward(x)), act));
}

at::Tensor pixel_shuffle(const at::Tensor& f, int64_t n) {
  // InternVLModel.pixel_shuffle with scale_factor 1 / n, step by step.
  const int64_t b = f.size(0), w = f.size(1), h = f.size(2), c = f.size(3);
  MVB_CHECK(h % n == 0 && w % n == 0, "pixel shuffle: the ", w, " x ", h, " grid does not divide by ", n);
  at::Tensor x = f.contiguous().view({b, w, h / n, c * n});
  x = x.permute({0, 2, 1, 3}).contiguous();
  x = x.view({b, h / n, w / n, c * n * n});
  return x.permute({0, 2, 1, 3}).contiguous();
}

VisionStackImpl::VisionStackImpl(const Config& c, int64_t text_hidden) : cfg(c) {
  vision_tower = register_module("vision_tower", VisionModel(c.vision));
  multi_modal_projector =
      register_module("multi_modal_projector", Projector(c.vision.hidden_size * c.shuffle * c.shuffle, text_hidden,
                                                         nn::parse_activation(c.projector_hidden_act)));
}

at::Tensor VisionStackImpl::image_features(const at::Tensor& pixel_values) {
  // Tiles are independent: a request's up to 13 tiles run a few at a time, so the eager attention
  // scores (tiles x heads x 1025^2 at 448 px: 0.9 GB in fp32 for 13 tiles) stay bounded.
  constexpr int64_t kTilesPerPass = 4;
  if (pixel_values.size(0) > kTilesPerPass) {
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < pixel_values.size(0); i += kTilesPerPass)
      parts.push_back(image_features(pixel_values.slice(0, i, std::min(i + kTilesPerPass, pixel_values.size(0)))));
    return at::cat(parts, 0);
  }
  at::Tensor f = vision_tower->hidden_state(pixel_values, cfg.vision_feature_layer);
  f = f.slice(1, 1);  // vision_feature_select_strategy "default": without the class token
  const int64_t b = f.size(0), side = cfg.vision.patches_per_side();
  f = internvl::pixel_shuffle(f.reshape({b, side, side, -1}), cfg.shuffle);
  f = f.reshape({b, -1, f.size(-1)});
  return multi_modal_projector->forward(f);
}

}  // namespace mvb::internvl
