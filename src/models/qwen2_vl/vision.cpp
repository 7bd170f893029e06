// transformers 5.23: models/qwen2_vl/modeling_qwen2_vl.py, models/qwen2_5_vl/modeling_qwen2_5_vl.py and
// vision_utils.py (get_vision_position_ids, get_vision_window_index), eager attention.
#include "medvlmbench/models/qwen2_vl/vision.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "medvlmbench/core/error.h"

namespace mvb::qwen2_vl {
namespace {

std::shared_ptr<torch::nn::Module> holder(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

at::Tensor activate(const at::Tensor& x, const std::string& act) {
  if (act == "quick_gelu") return x * at::sigmoid(x * 1.702);
  if (act == "silu") return at::silu(x);
  return at::gelu(x);
}

}  // namespace

at::Tensor vision_position_ids(const std::vector<Grid>& grids, int64_t m) {
  std::vector<at::Tensor> out;
  for (const Grid& g : grids) {
    const int64_t t = g[0], h = g[1], w = g[2];
    MVB_CHECK(t > 0 && h % m == 0 && w % m == 0, "image grid ", t, "x", h, "x", w,
              " is not a multiple of the merge size ", m);
    at::Tensor hpos = at::arange(h, at::kLong).view({h, 1}).expand({h, w});
    at::Tensor wpos = at::arange(w, at::kLong).view({1, w}).expand({h, w});
    auto blocks = [&](const at::Tensor& p) { return p.reshape({h / m, m, w / m, m}).permute({0, 2, 1, 3}).flatten(); };
    out.push_back(at::stack({blocks(hpos), blocks(wpos)}, -1).repeat({t, 1}));
  }
  return at::cat(out, 0);
}

WindowIndex vision_window_index(const std::vector<Grid>& grids, int64_t m, int64_t window_size, int64_t patch_size) {
  const int64_t ws = window_size / m / patch_size;  // window side in merged tokens
  MVB_CHECK(ws > 0, "window_size ", window_size, " is smaller than one merged patch");
  WindowIndex wi;
  wi.cu_seqlens = {0};
  std::vector<at::Tensor> parts;
  int64_t offset = 0;
  for (const Grid& g : grids) {
    const int64_t t = g[0], gh = g[1] / m, gw = g[2] / m;
    // transformers pads up to whole windows (a full extra window when the side divides evenly, which
    // holds no token and is dropped below).
    const int64_t pad_h = ws - gh % ws, pad_w = ws - gw % ws;
    const int64_t nh = (gh + pad_h) / ws, nw = (gw + pad_w) / ws;
    at::Tensor idx = at::full({t, gh + pad_h, gw + pad_w}, -100, at::kLong);
    idx.narrow(1, 0, gh).narrow(2, 0, gw).copy_(at::arange(t * gh * gw, at::kLong).view({t, gh, gw}));
    idx = idx.view({t, nh, ws, nw, ws}).permute({0, 1, 3, 2, 4}).reshape({t, nh * nw, ws * ws});
    const at::Tensor counts = (idx != -100).sum(2).reshape({-1});
    const at::Tensor flat = idx.reshape({-1});
    parts.push_back(flat.masked_select(flat != -100) + offset);
    const auto* c = counts.data_ptr<int64_t>();
    for (int64_t i = 0; i < counts.numel(); ++i) {
      const int64_t next = wi.cu_seqlens.back() + c[i] * m * m;
      if (next != wi.cu_seqlens.back()) wi.cu_seqlens.push_back(next);  // torch.unique_consecutive
    }
    offset += t * gh * gw;
  }
  wi.index = at::cat(parts, 0);
  return wi;
}

VisionNormImpl::VisionNormImpl(int64_t dim, bool rms_norm, double e) : rms(rms_norm), eps(e) {
  weight = register_parameter("weight", at::ones({dim}));
  if (!rms) bias = register_parameter("bias", at::zeros({dim}));
}

at::Tensor VisionNormImpl::forward(const at::Tensor& x) {
  if (!rms) return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
  // Qwen2_5_VLRMSNorm: float32 statistics, cast back before the weight.
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor y = xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return weight * y.to(x.scalar_type());
}

VisionBlockImpl::VisionBlockImpl(const VisionConfig& c) : cfg(c) {
  const bool rms = c.variant == Variant::kQwen25VL;
  const int64_t d = c.hidden_size;
  norm1 = register_module("norm1", VisionNorm(d, rms));
  norm2 = register_module("norm2", VisionNorm(d, rms));
  auto attn = holder(*this, "attn");
  qkv = attn->register_module("qkv", nn::Linear(d, 3 * d, /*bias=*/true));
  proj = attn->register_module("proj", nn::Linear(d, d, /*bias=*/true));
  auto mlp = holder(*this, "mlp");
  if (c.variant == Variant::kQwen2VL) {
    fc1 = mlp->register_module("fc1", nn::Linear(d, c.intermediate_size, /*bias=*/true));
    fc2 = mlp->register_module("fc2", nn::Linear(c.intermediate_size, d, /*bias=*/true));
  } else {
    gate_proj = mlp->register_module("gate_proj", nn::Linear(d, c.intermediate_size, /*bias=*/true));
    up_proj = mlp->register_module("up_proj", nn::Linear(d, c.intermediate_size, /*bias=*/true));
    down_proj = mlp->register_module("down_proj", nn::Linear(c.intermediate_size, d, /*bias=*/true));
  }
}

at::Tensor VisionBlockImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                    const std::vector<int64_t>& cu_seqlens) {
  const int64_t S = x.size(0), H = cfg.num_heads, D = cfg.head_dim();
  const at::Tensor h = norm1->forward(x);
  const at::Tensor qkv_out = qkv->forward(h).view({S, 3, H, D});
  // apply_rotary_pos_emb_vision: rotation in float32, back to the input dtype.
  const at::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  auto rot = [&](const at::Tensor& t) {
    const at::Tensor f = t.to(at::kFloat);
    return (f * c + rotate_half(f) * s).to(t.scalar_type());
  };
  const at::Tensor q = rot(qkv_out.select(1, 0)).transpose(0, 1);  // [H, S, D]
  const at::Tensor k = rot(qkv_out.select(1, 1)).transpose(0, 1);
  const at::Tensor v = qkv_out.select(1, 2).transpose(0, 1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<at::Tensor> outs;
  outs.reserve(cu_seqlens.size());
  for (size_t i = 0; i + 1 < cu_seqlens.size(); ++i) {
    const int64_t a = cu_seqlens[i], len = cu_seqlens[i + 1] - a;
    const at::Tensor qs = q.narrow(1, a, len), ks = k.narrow(1, a, len), vs = v.narrow(1, a, len);
    // eager_attention_forward: softmax in float32, then the value product in the input dtype.
    const at::Tensor w = at::softmax(at::matmul(qs, ks.transpose(1, 2)) * scale, -1, at::kFloat).to(q.scalar_type());
    outs.push_back(at::matmul(w, vs));  // [H, len, D]
  }
  const at::Tensor attn = at::cat(outs, 1).transpose(0, 1).reshape({S, H * D});
  at::Tensor y = x + proj->forward(attn);
  const at::Tensor z = norm2->forward(y);
  if (cfg.variant == Variant::kQwen2VL) return y + fc2->forward(activate(fc1->forward(z), cfg.hidden_act));
  return y + down_proj->forward(activate(gate_proj->forward(z), cfg.hidden_act) * up_proj->forward(z));
}

VisionTowerImpl::VisionTowerImpl(const VisionConfig& c) : cfg(c) {
  const int64_t d = c.hidden_size, m2 = c.spatial_merge_size * c.spatial_merge_size;
  auto patch_embed = holder(*this, "patch_embed");
  auto conv = holder(*patch_embed, "proj");
  patch_weight = conv->register_parameter(
      "weight", at::zeros({d, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size}), false);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) {
    typed_blocks.push_back(VisionBlock(c));
    blocks->push_back(typed_blocks.back());
  }
  auto merger = holder(*this, "merger");
  ln_q = merger->register_module("ln_q", VisionNorm(d, c.variant == Variant::kQwen25VL));
  auto mlp = holder(*merger, "mlp");
  merger_fc1 = mlp->register_module("0", nn::Linear(d * m2, d * m2, /*bias=*/true));
  merger_fc2 = mlp->register_module("2", nn::Linear(d * m2, c.out_hidden_size, /*bias=*/true));
  // Qwen2VLVisionRotaryEmbedding: axial rope over head_dim / 2 channels per axis.
  const int64_t spatial = c.head_dim() / 2;
  inv_freq = 1.0 / at::pow(c.rope_theta, at::arange(0, spatial, 2, at::kFloat) / static_cast<double>(spatial));
}

at::Tensor VisionTowerImpl::forward(const at::Tensor& patches, const std::vector<Grid>& grids) {
  const int64_t m = cfg.spatial_merge_size, m2 = m * m;
  const int64_t per_patch = cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size * cfg.patch_size;
  int64_t total = 0;
  std::vector<int64_t> cu{0};
  for (const Grid& g : grids) {
    total += g[0] * g[1] * g[2];
    for (int64_t t = 0; t < g[0]; ++t) cu.push_back(cu.back() + g[1] * g[2]);  // one segment per frame
  }
  MVB_CHECK(patches.dim() == 2 && patches.size(0) == total && patches.size(1) == per_patch,
            "Qwen2-VL vision tower expects patches [", total, ", ", per_patch, "] for these grids; got ",
            patches.sizes());
  const auto dtype = patch_weight.scalar_type();
  const auto device = patch_weight.device();
  // PatchEmbed's Conv3d with kernel = stride = patch size is a product with the flattened kernel.
  at::Tensor x = at::matmul(patches.to(device, dtype), patch_weight.reshape({cfg.hidden_size, per_patch}).t());

  const at::Tensor pos = vision_position_ids(grids, m).to(device);  // [P, 2]
  const at::Tensor f = inv_freq.to(device);
  const at::Tensor freqs =
      at::cat({pos.select(1, 0).unsqueeze(1).to(at::kFloat) * f, pos.select(1, 1).unsqueeze(1).to(at::kFloat) * f}, 1);
  const at::Tensor emb = at::cat({freqs, freqs}, 1);  // [P, head_dim]
  at::Tensor cos = emb.cos(), sin = emb.sin();

  const bool windowed = cfg.variant == Variant::kQwen25VL;
  WindowIndex wi;
  auto by_window = [&](const at::Tensor& t) {
    return t.reshape({total / m2, m2, -1}).index_select(0, wi.index).reshape({total, -1});
  };
  if (windowed) {
    wi = vision_window_index(grids, m, cfg.window_size, cfg.patch_size);
    wi.index = wi.index.to(device);
    x = by_window(x);
    cos = by_window(cos);
    sin = by_window(sin);
  }
  for (int64_t i = 0; i < cfg.depth; ++i) {
    const bool full = !windowed || std::find(cfg.fullatt_block_indexes.begin(), cfg.fullatt_block_indexes.end(), i) !=
                                       cfg.fullatt_block_indexes.end();
    x = typed_blocks[static_cast<size_t>(i)]->forward(x, cos, sin, full ? cu : wi.cu_seqlens);
  }
  at::Tensor merged = ln_q->forward(x).reshape({total / m2, cfg.hidden_size * m2});
  merged = merger_fc2->forward(at::gelu(merger_fc1->forward(merged)));
  if (windowed) merged = merged.index_select(0, at::argsort(wi.index));
  return merged;
}

}  // namespace mvb::qwen2_vl
