// transformers 5.23 (and 4.53.1, identical here): models/blip/modeling_blip.py (BlipVisionEmbeddings,
// BlipAttention, BlipMLP, BlipEncoderLayer, BlipVisionModel) and models/blip_2/modeling_blip_2.py
// (the same tower; Blip2Attention's qkv Linear has no bias unless qkv_bias).
#include "medvlmbench/models/blip/vision.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::blip {
namespace {

namespace hf = nn::hf;

VisionConfig read_common(VisionConfig c, const nlohmann::json& j, const std::string& where) {
  c.hidden_size = hf::get_int(j, "hidden_size", c.hidden_size, where);
  c.intermediate_size = hf::get_int(j, "intermediate_size", c.intermediate_size, where);
  c.num_hidden_layers = hf::get_int(j, "num_hidden_layers", c.num_hidden_layers, where);
  c.num_attention_heads = hf::get_int(j, "num_attention_heads", c.num_attention_heads, where);
  c.image_size = hf::get_int(j, "image_size", c.image_size, where);
  c.patch_size = hf::get_int(j, "patch_size", c.patch_size, where);
  c.num_channels = hf::get_int(j, "num_channels", c.num_channels, where);
  c.layer_norm_eps = hf::get_double(j, "layer_norm_eps", c.layer_norm_eps, where);
  c.hidden_act = hf::get_string(j, "hidden_act", c.hidden_act, where);
  nn::parse_activation(c.hidden_act);  // an activation we do not implement is refused here, naming it
  MVB_CHECK(c.hidden_size > 0 && c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0, where,
            ": vision hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
            c.num_attention_heads);
  MVB_CHECK(c.patch_size > 0 && c.image_size % c.patch_size == 0, where, ": vision image_size ", c.image_size,
            " is not a multiple of patch_size ", c.patch_size);
  // Both embeddings classes build Conv2d(in_channels=3, ...) whatever num_channels says.
  MVB_CHECK(c.num_channels == 3, where, ": vision num_channels ", c.num_channels,
            " is not supported (BLIP's patch embedding takes RGB)");
  return c;
}

}  // namespace

VisionConfig VisionConfig::blip(const nlohmann::json& j, const std::string& where) {
  return read_common(VisionConfig{}, j, where);
}

VisionConfig VisionConfig::blip2(const nlohmann::json& j, const std::string& where) {
  VisionConfig c;
  c.hidden_size = 1408;
  c.intermediate_size = 6144;
  c.num_hidden_layers = 39;
  c.num_attention_heads = 16;
  c.image_size = 224;
  c.patch_size = 14;
  c.layer_norm_eps = 1e-6;
  c.qkv_bias = hf::get_bool(j, "qkv_bias", true, where);
  return read_common(c, j, where);
}

VisionAttentionImpl::VisionAttentionImpl(const VisionConfig& c) : heads(c.num_attention_heads) {
  qkv = register_module("qkv", nn::Linear(c.hidden_size, 3 * c.hidden_size, c.qkv_bias));
  projection = register_module("projection", nn::Linear(c.hidden_size, c.hidden_size, /*bias=*/true));
}

at::Tensor VisionAttentionImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), L = x.size(1), D = x.size(2);
  // [B, L, 3, heads, hd] -> [3, B, heads, L, hd], as BlipAttention reshapes it.
  at::Tensor mixed = qkv->forward(x).view({B, L, 3, heads, D / heads}).permute({2, 0, 3, 1, 4});
  at::Tensor out = compat::scaled_dot_product_attention(mixed[0], mixed[1], mixed[2]);
  return projection->forward(out.transpose(1, 2).reshape({B, L, D}));
}

VisionMlpImpl::VisionMlpImpl(const VisionConfig& c) : act(nn::parse_activation(c.hidden_act)) {
  fc1 = register_module("fc1", nn::Linear(c.hidden_size, c.intermediate_size, /*bias=*/true));
  fc2 = register_module("fc2", nn::Linear(c.intermediate_size, c.hidden_size, /*bias=*/true));
}

at::Tensor VisionMlpImpl::forward(const at::Tensor& x) { return fc2->forward(nn::activate(fc1->forward(x), act)); }

VisionLayerImpl::VisionLayerImpl(const VisionConfig& c) {
  self_attn = register_module("self_attn", VisionAttention(c));
  layer_norm1 = register_module(
      "layer_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  mlp = register_module("mlp", VisionMlp(c));
  layer_norm2 = register_module(
      "layer_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

at::Tensor VisionLayerImpl::forward(const at::Tensor& x) {
  at::Tensor h = x + self_attn->forward(layer_norm1->forward(x));
  return h + mlp->forward(layer_norm2->forward(h));
}

VisionModelImpl::VisionModelImpl(const VisionConfig& c) : cfg(c) {
  auto embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  class_embedding = embeddings->register_parameter("class_embedding", at::zeros({1, 1, c.hidden_size}));
  patch_embedding = embeddings->register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size)));
  position_embedding =
      embeddings->register_parameter("position_embedding", at::zeros({1, c.num_patches() + 1, c.hidden_size}));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    typed_layers.push_back(VisionLayer(c));
    layers->push_back(typed_layers.back());
  }
  post_layernorm = register_module(
      "post_layernorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size})
                               .eps(c.post_layernorm_eps < 0 ? c.layer_norm_eps : c.post_layernorm_eps)));
}

VisionOutput VisionModelImpl::forward(const at::Tensor& pixel_values) {
  MVB_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == cfg.num_channels &&
                pixel_values.size(2) == cfg.image_size && pixel_values.size(3) == cfg.image_size,
            "BLIP vision tower: pixel_values of shape ", pixel_values.sizes(), "; expected [batch, ", cfg.num_channels,
            ", ", cfg.image_size, ", ", cfg.image_size, "] (position embeddings are not interpolated to other sizes)");
  const at::Tensor w = patch_embedding->weight;
  at::Tensor x = patch_embedding->forward(pixel_values.to(w.device(), w.scalar_type()));  // [B, D, g, g]
  x = x.flatten(2).transpose(1, 2);
  const int64_t B = x.size(0);
  x = at::cat({class_embedding.to(x.scalar_type()).expand({B, 1, cfg.hidden_size}), x}, 1);
  x = x + position_embedding.to(x.scalar_type());
  for (auto& layer : typed_layers) x = layer->forward(x);
  VisionOutput out;
  out.last_hidden_state = post_layernorm->forward(x);
  out.pooler_output = post_layernorm->forward(out.last_hidden_state.select(1, 0));
  return out;
}

void fuse_qkv_bias(nn::TensorMap& tensors, const std::string& source) {
  const std::string q_suffix = "self_attn.q_bias", v_suffix = "self_attn.v_bias";
  std::vector<std::string> stems;
  for (const auto& [name, t] : tensors) {
    const bool q =
        name.size() >= q_suffix.size() && name.compare(name.size() - q_suffix.size(), q_suffix.size(), q_suffix) == 0;
    const bool v =
        name.size() >= v_suffix.size() && name.compare(name.size() - v_suffix.size(), v_suffix.size(), v_suffix) == 0;
    if (q) stems.push_back(name.substr(0, name.size() - std::string("q_bias").size()));
    if (v)
      MVB_CHECK(tensors.count(name.substr(0, name.size() - std::string("v_bias").size()) + "q_bias"), source, ": ",
                name, " has no matching q_bias");
  }
  for (const std::string& stem : stems) {
    auto q = tensors.find(stem + "q_bias");
    auto v = tensors.find(stem + "v_bias");
    MVB_CHECK(v != tensors.end(), source, ": ", stem, "q_bias has no matching v_bias");
    MVB_CHECK(!tensors.count(stem + "qkv.bias"), source, ": ", stem, " has both q_bias/v_bias and qkv.bias");
    at::Tensor qb = q->second, vb = v->second;
    tensors[stem + "qkv.bias"] = at::cat({qb, at::zeros_like(vb), vb});
    tensors.erase(stem + "q_bias");
    tensors.erase(stem + "v_bias");
  }
}

nn::TensorMap vision_weights(const io::StateDict& sd, const std::string& prefix) {
  nn::TensorMap t = nn::read_weights(sd, [&](const std::string& name) -> std::optional<std::string> {
    if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    return nn::drop_position_ids(name.substr(prefix.size()));
  });
  fuse_qkv_bias(t, sd.source());
  return t;
}

VisionModel load_vision_model(const VisionConfig& cfg, const io::StateDict& sd, const std::string& prefix) {
  VisionModel m(cfg);
  nn::assign_weights(*m, vision_weights(sd, prefix), sd.source() + (prefix.empty() ? "" : " (" + prefix + "*)"));
  m->eval();
  return m;
}

}  // namespace mvb::blip
