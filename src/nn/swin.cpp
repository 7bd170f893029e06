#include "medvlmbench/nn/swin.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"

namespace mvb::nn {

namespace {

torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// [B, H, W, C] -> [B * nW, w*w, C], windows in row-major order per image (HF window_partition).
at::Tensor window_partition(const at::Tensor& x, int64_t w) {
  const int64_t b = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  return x.view({b, h / w, w, wd / w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, c});
}

// Inverse of window_partition: [B * nW, w*w, C] -> [B, H, W, C].
at::Tensor window_reverse(const at::Tensor& windows, int64_t w, int64_t h, int64_t wd) {
  const int64_t c = windows.size(-1);
  return windows.view({-1, h / w, wd / w, w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, h, wd, c});
}

// SW-MSA mask for a padded h x wd map: tokens of a window that came from different regions of the
// cyclically shifted map must not attend to each other (HF SwinLayer.get_attn_mask: -100, else 0).
at::Tensor shifted_window_mask(int64_t h, int64_t wd, int64_t w, int64_t shift, const at::TensorOptions& opts) {
  at::Tensor img = at::zeros({1, h, wd, 1}, at::kFloat);
  auto a = img.accessor<float, 4>();
  // Region boundaries of slices (0, -w), (-w, -shift), (-shift, None).
  auto region = [&](int64_t i, int64_t size) { return i < size - w ? 0 : (i < size - shift ? 1 : 2); };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < wd; ++x) a[0][y][x][0] = static_cast<float>(region(y, h) * 3 + region(x, wd));
  at::Tensor mw = window_partition(img, w).view({-1, w * w});
  at::Tensor diff = mw.unsqueeze(1) - mw.unsqueeze(2);
  return at::zeros_like(diff).masked_fill(diff != 0, -100.0).to(opts);
}

}  // namespace

SwinOptions SwinOptions::from_config(const nlohmann::json& c, const std::string& source) {
  SwinOptions o;
  auto scalar = [&](const char* key, int64_t fallback) {
    if (!c.contains(key)) return fallback;
    MVB_CHECK(c[key].is_number_integer(), source, ": ", key,
              " must be one integer (non-square sizes are not supported)");
    return c[key].get<int64_t>();
  };
  o.image_size = scalar("image_size", o.image_size);
  o.patch_size = scalar("patch_size", o.patch_size);
  o.channels = scalar("num_channels", o.channels);
  o.embed_dim = scalar("embed_dim", o.embed_dim);
  o.window_size = scalar("window_size", o.window_size);
  if (c.contains("depths")) o.depths = c["depths"].get<std::vector<int64_t>>();
  if (c.contains("num_heads")) o.num_heads = c["num_heads"].get<std::vector<int64_t>>();
  o.mlp_ratio = c.value("mlp_ratio", o.mlp_ratio);
  o.qkv_bias = c.value("qkv_bias", o.qkv_bias);
  o.act = parse_activation(c.value("hidden_act", std::string("gelu")));
  o.eps = c.value("layer_norm_eps", o.eps);
  MVB_CHECK(!c.value("use_absolute_embeddings", false), source,
            ": use_absolute_embeddings is not supported (no released Swin checkpoint uses it)");
  MVB_CHECK(!o.depths.empty() && o.depths.size() == o.num_heads.size(), source, ": depths (", o.depths.size(),
            " stages) and num_heads (", o.num_heads.size(), ") must be non-empty and the same length");
  MVB_CHECK(o.patch_size > 0 && o.window_size > 0 && o.embed_dim > 0, source,
            ": patch_size, window_size and embed_dim must be positive");
  return o;
}

int64_t SwinOptions::num_features() const { return embed_dim << (depths.size() - 1); }

SwinSelfAttentionImpl::SwinSelfAttentionImpl(int64_t dim, int64_t h, int64_t w, bool qkv_bias) : heads(h), window(w) {
  MVB_CHECK(h > 0 && dim % h == 0, "Swin stage width ", dim, " is not a multiple of its ", h, " heads");
  relative_position_bias_table =
      register_parameter("relative_position_bias_table", at::zeros({(2 * w - 1) * (2 * w - 1), h}));
  // Pair-wise relative position index of the tokens of one window, as HF computes it.
  relative_position_index = at::empty({w * w, w * w}, at::kLong);
  auto idx = relative_position_index.accessor<int64_t, 2>();
  for (int64_t i = 0; i < w * w; ++i)
    for (int64_t j = 0; j < w * w; ++j) idx[i][j] = (i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1);
  query = register_module("query", Linear(dim, dim, qkv_bias));
  key = register_module("key", Linear(dim, dim, qkv_bias));
  value = register_module("value", Linear(dim, dim, qkv_bias));
}

at::Tensor SwinSelfAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  const int64_t bw = x.size(0), n = x.size(1), c = x.size(2), hd = c / heads;
  auto split = [&](const at::Tensor& t) { return t.view({bw, n, heads, hd}).permute({0, 2, 1, 3}); };
  at::Tensor q = split(query->forward(x)), k = split(key->forward(x)), v = split(value->forward(x));
  const at::Tensor& table = relative_position_bias_table;
  // The relative position bias [1, heads, n, n] and the shifted windows' mask (one [n, n] per window
  // position, windows ordered window-major within each image) are one additive mask, so the
  // attention itself is LibTorch's fused op where it has one.
  at::Tensor bias = table.index_select(0, relative_position_index.view(-1).to(table.device())).view({n, n, -1});
  at::Tensor add = bias.permute({2, 0, 1}).unsqueeze(0);
  if (mask.defined()) {
    const int64_t nw = mask.size(0);
    add = (add + mask.unsqueeze(1).to(add.scalar_type())).unsqueeze(0).expand({bw / nw, nw, heads, n, n});
    add = add.reshape({bw, heads, n, n});
  }
  at::Tensor ctx = compat::scaled_dot_product_attention(q, k, v, add);
  return ctx.permute({0, 2, 1, 3}).reshape({bw, n, c});
}

SwinDenseImpl::SwinDenseImpl(int64_t in, int64_t out) {
  dense = register_module("dense", Linear(in, out, /*bias=*/true));
}

SwinAttentionImpl::SwinAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias) {
  self = register_module("self", SwinSelfAttention(dim, heads, window, qkv_bias));
  output = register_module("output", SwinDense(dim, dim));
}

SwinBlockImpl::SwinBlockImpl(const SwinOptions& o, int64_t dim, int64_t heads, int64_t s)
    : window(o.window_size), shift(s), act(o.act) {
  const auto hidden = static_cast<int64_t>(o.mlp_ratio * static_cast<double>(dim));  // int(mlp_ratio * dim)
  layernorm_before = register_module("layernorm_before", layer_norm(dim, o.eps));
  attention = register_module("attention", SwinAttention(dim, heads, o.window_size, o.qkv_bias));
  layernorm_after = register_module("layernorm_after", layer_norm(dim, o.eps));
  intermediate = register_module("intermediate", SwinDense(dim, hidden));
  output = register_module("output", SwinDense(hidden, dim));
}

at::Tensor SwinBlockImpl::forward(const at::Tensor& x, int64_t height, int64_t width) {
  int64_t w = window, s = shift;
  if (std::min(height, width) <= window) {  // HF set_shift_and_window_size: one window, no shift
    s = 0;
    w = std::min(height, width);
  }
  // HF would fail here too (its bias table is for the configured window); say why instead.
  MVB_CHECK(w == window, "Swin feature map ", height, "x", width, " is smaller than the window size ", window,
            "; use larger images (the checkpoint's image_size)");
  const int64_t b = x.size(0), c = x.size(2);
  at::Tensor h = layernorm_before->forward(x).view({b, height, width, c});
  const int64_t pad_r = (w - width % w) % w, pad_b = (w - height % w) % w;
  if (pad_r > 0 || pad_b > 0) h = at::constant_pad_nd(h, {0, 0, 0, pad_r, 0, pad_b});
  const int64_t hp = height + pad_b, wp = width + pad_r;
  if (s > 0) h = at::roll(h, {-s, -s}, {1, 2});
  at::Tensor mask;
  if (s > 0) mask = shifted_window_mask(hp, wp, w, s, h.options());
  at::Tensor a = attention->output->forward(attention->self->forward(window_partition(h, w), mask));
  a = window_reverse(a, w, hp, wp);
  if (s > 0) a = at::roll(a, {s, s}, {1, 2});
  if (pad_r > 0 || pad_b > 0) a = a.slice(1, 0, height).slice(2, 0, width);
  at::Tensor y = x + a.reshape({b, height * width, c});
  return y + output->forward(activate(intermediate->forward(layernorm_after->forward(y)), act));
}

SwinPatchMergingImpl::SwinPatchMergingImpl(int64_t dim) {
  reduction = register_module("reduction", Linear(4 * dim, 2 * dim, /*bias=*/false));
  norm = register_module("norm", layer_norm(4 * dim, 1e-5));  // nn.LayerNorm's default eps in HF
}

at::Tensor SwinPatchMergingImpl::forward(const at::Tensor& x, int64_t height, int64_t width) {
  const int64_t b = x.size(0), c = x.size(2);
  at::Tensor f = x.view({b, height, width, c});
  if (height % 2 == 1 || width % 2 == 1) f = at::constant_pad_nd(f, {0, 0, 0, width % 2, 0, height % 2});
  using at::indexing::None;
  using at::indexing::Slice;
  at::Tensor x0 = f.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)});
  at::Tensor x1 = f.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)});
  at::Tensor x2 = f.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)});
  at::Tensor x3 = f.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)});
  f = at::cat({x0, x1, x2, x3}, -1).reshape({b, -1, 4 * c});
  return reduction->forward(norm->forward(f));
}

SwinStageImpl::SwinStageImpl(const SwinOptions& o, int64_t dim, int64_t depth, int64_t heads, bool down) {
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < depth; ++i) {
    typed_blocks.push_back(SwinBlock(o, dim, heads, i % 2 == 0 ? 0 : o.window_size / 2));
    blocks->push_back(typed_blocks.back());
  }
  if (down) downsample = register_module("downsample", SwinPatchMerging(dim));
}

at::Tensor SwinStageImpl::forward(at::Tensor x, int64_t& height, int64_t& width) {
  for (auto& blk : typed_blocks) x = blk->forward(x, height, width);
  if (downsample) {
    x = downsample->forward(x, height, width);
    height = (height + 1) / 2;
    width = (width + 1) / 2;
  }
  return x;
}

SwinPatchEmbeddingsImpl::SwinPatchEmbeddingsImpl(int64_t channels, int64_t dim, int64_t patch) {
  projection =
      register_module("projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, dim, patch).stride(patch)));
}

SwinEmbeddingsImpl::SwinEmbeddingsImpl(int64_t channels, int64_t dim, int64_t patch) {
  patch_embeddings = register_module("patch_embeddings", SwinPatchEmbeddings(channels, dim, patch));
  norm = register_module("norm", layer_norm(dim, 1e-5));  // nn.LayerNorm(embed_dim): default eps
}

SwinEncoderImpl::SwinEncoderImpl(const SwinOptions& o) {
  layers = register_module("layers", torch::nn::ModuleList());
  const auto stages = static_cast<int64_t>(o.depths.size());
  for (int64_t i = 0; i < stages; ++i) {
    typed_layers.push_back(SwinStage(o, o.embed_dim << i, o.depths[i], o.num_heads[i], i + 1 < stages));
    layers->push_back(typed_layers.back());
  }
}

SwinModelImpl::SwinModelImpl(const SwinOptions& o) : opts(o) {
  embeddings = register_module("embeddings", SwinEmbeddings(o.channels, o.embed_dim, o.patch_size));
  encoder = register_module("encoder", SwinEncoder(o));
  layernorm = register_module("layernorm", layer_norm(o.num_features(), o.eps));
}

SwinFeatures SwinModelImpl::forward(const at::Tensor& pixel_values) {
  MVB_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == opts.channels, "Swin expects [N, ", opts.channels,
            ", H, W] pixels; got ", pixel_values.sizes());
  const at::Tensor& w = embeddings->patch_embeddings->projection->weight;
  at::Tensor px = pixel_values.to(w.scalar_type());
  // SwinPatchEmbeddings.maybe_pad: zeros on the right / bottom up to a multiple of the patch.
  const int64_t p = opts.patch_size;
  const int64_t pad_r = (p - px.size(3) % p) % p, pad_b = (p - px.size(2) % p) % p;
  if (pad_r > 0 || pad_b > 0) px = at::constant_pad_nd(px, {0, pad_r, 0, pad_b});
  at::Tensor x = embeddings->patch_embeddings->projection->forward(px);
  int64_t height = x.size(2), width = x.size(3);
  x = embeddings->norm->forward(x.flatten(2).transpose(1, 2));
  for (auto& stage : encoder->typed_layers) x = stage->forward(x, height, width);
  SwinFeatures out;
  out.last_hidden_state = layernorm->forward(x);
  out.pooled = out.last_hidden_state.mean(1);  // AdaptiveAvgPool1d(1) over the tokens
  return out;
}

std::optional<std::string> swin_checkpoint_name(const std::string& n) {
  static const std::regex skip(R"(.*\.(relative_position_index|attn_mask)$)");
  if (std::regex_match(n, skip)) return std::nullopt;
  return n;
}

}  // namespace mvb::nn
