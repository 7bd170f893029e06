#include "medvlmbench/nn/rope.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::nn {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

bool is_qwen2_vl(const std::string& model_type) {
  return starts_with(model_type, "qwen2_vl") || starts_with(model_type, "qwen2_5_vl");
}

// transformers' class defaults for rope_theta and max_position_embeddings by model_type.
double default_theta(const std::string& model_type) { return is_qwen2_vl(model_type) ? 1000000.0 : 10000.0; }
int64_t default_max_positions(const std::string& model_type) {
  if (model_type.find("mistral") != std::string::npos) return 131072;
  if (starts_with(model_type, "qwen")) return 32768;  // qwen2, qwen2_vl, qwen2_5_vl, qwen3
  return 2048;
}

// 1 / theta^(2i / dim) in float32, the way every transformers rope init computes it
// (`base ** (torch.arange(0, dim, 2).float() / dim)` with a Python float base).
at::Tensor default_inv_freq(double theta, int64_t dim) {
  at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  return 1.0 / at::pow(theta, exponent);
}

at::Tensor llama3_inv_freq(const RopeOptions& o, int64_t dim) {
  at::Tensor inv = default_inv_freq(o.theta, dim);
  const double old_len = static_cast<double>(o.original_max_position_embeddings);
  const double low_wavelen = old_len / o.low_freq_factor, high_wavelen = old_len / o.high_freq_factor;
  at::Tensor wavelen = 2 * M_PI / inv;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv / o.factor, inv);
  at::Tensor smooth = (old_len / wavelen - o.low_freq_factor) / (o.high_freq_factor - o.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / o.factor + smooth * scaled;
  at::Tensor medium = (wavelen < high_wavelen).logical_not() * (wavelen > low_wavelen).logical_not();
  return at::where(medium, smoothed, scaled);
}

at::Tensor yarn_inv_freq(const RopeOptions& o, int64_t dim) {
  const double base = o.theta;
  const double orig = static_cast<double>(o.original_max_position_embeddings);
  auto correction_dim = [&](double rotations) {
    return (dim * std::log(orig / (rotations * 2 * M_PI))) / (2 * std::log(base));
  };
  double low = correction_dim(o.beta_fast), high = correction_dim(o.beta_slow);
  if (o.truncate) low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // transformers: prevent a singular ramp
  at::Tensor pos_freqs = at::pow(base, at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim));
  at::Tensor extrapolation = 1.0 / pos_freqs;
  at::Tensor interpolation = 1.0 / (o.factor * pos_freqs);
  at::Tensor ramp = ((at::arange(dim / 2, at::kFloat) - low) / (high - low)).clamp(0, 1);
  at::Tensor extrapolation_factor = 1 - ramp;
  return interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
}

double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

}  // namespace

RopeOptions rope_options_from_config(const nlohmann::json& c, int64_t head_dim, const std::string& where) {
  RopeOptions o;
  const std::string model_type = hf::get_string(c, "model_type", "llama", where);
  // transformers 5 writes one rope_parameters dict (rope_theta inside); published checkpoints carry
  // rope_theta beside an optional rope_scaling dict. Both reduce to one dict of parameters.
  std::string key = "rope_parameters";
  nlohmann::json p = nlohmann::json::object();
  if (hf::has(c, "rope_parameters")) {
    p = c.at("rope_parameters");
  } else if (hf::has(c, "rope_scaling")) {
    key = "rope_scaling";
    p = c.at("rope_scaling");
  }
  MVB_CHECK(p.is_object(), where, ": ", key, " must be an object (got ", p.dump(), ")");
  for (const auto& [k, v] : p.items())
    MVB_CHECK(!v.is_object(), where, ": ", key, ".", k,
              ": rope parameters per layer type are not supported by this decoder (one set for every layer)");

  o.theta = hf::get_double(p, "rope_theta", hf::get_double(c, "rope_theta", default_theta(model_type), where), where);
  o.type = hf::get_string(p, "rope_type", hf::get_string(p, "type", "default", where), where);
  // Qwen2-VL's transformers-4 configs say {"type": "mrope"}: the default frequencies over three streams.
  if (o.type == "mrope") o.type = "default";
  const std::vector<std::string> known = {"default", "linear", "dynamic", "llama3", "yarn"};
  MVB_CHECK(std::find(known.begin(), known.end(), o.type) != known.end(), where, ": ", key, ".rope_type '", o.type,
            "' is not supported (supported: default, linear, dynamic, llama3, yarn)");

  const double partial =
      hf::get_double(p, "partial_rotary_factor", hf::get_double(c, "partial_rotary_factor", 1.0, where), where);
  o.rotary_dim = static_cast<int64_t>(head_dim * partial);
  MVB_CHECK(o.rotary_dim > 0 && o.rotary_dim % 2 == 0 && o.rotary_dim <= head_dim, where, ": partial_rotary_factor ",
            partial, " gives ", o.rotary_dim, " rotary channels of ", head_dim,
            " (need an even number in (0, head_dim])");
  if (o.rotary_dim == head_dim) o.rotary_dim = 0;
  o.max_position_embeddings = hf::get_int(c, "max_position_embeddings", default_max_positions(model_type), where);

  auto require = [&](const char* k) {
    MVB_CHECK(hf::has(p, k), where, ": ", key, ".", k, " is required for rope_type '", o.type, "'");
  };
  if (o.type != "default" && o.type != "yarn") require("factor");
  o.factor = hf::get_double(p, "factor", 1.0, where);
  if (o.type == "llama3" || o.type == "yarn") {
    // As transformers' standardize_rope_params: a top-level original_max_position_embeddings wins
    // (Phi-3 style), then the rope dict's, then max_position_embeddings.
    o.original_max_position_embeddings =
        hf::get_int(c, "original_max_position_embeddings",
                    hf::get_int(p, "original_max_position_embeddings", o.max_position_embeddings, where), where);
  }
  if (o.type == "llama3") {
    require("low_freq_factor");
    require("high_freq_factor");
    o.low_freq_factor = hf::get_double(p, "low_freq_factor", 1.0, where);
    o.high_freq_factor = hf::get_double(p, "high_freq_factor", 4.0, where);
  }
  if (o.type == "yarn") {
    if (!hf::has(p, "factor"))
      o.factor = static_cast<double>(o.max_position_embeddings) / o.original_max_position_embeddings;
    // `get("beta_fast") or 32`: 0 counts as absent too.
    o.beta_fast = hf::get_double(p, "beta_fast", 0.0, where);
    if (o.beta_fast == 0) o.beta_fast = 32.0;
    o.beta_slow = hf::get_double(p, "beta_slow", 0.0, where);
    if (o.beta_slow == 0) o.beta_slow = 1.0;
    o.truncate = hf::get_bool(p, "truncate", true, where);
    o.attention_factor = hf::get_double(p, "attention_factor", 0.0, where);
    const double mscale = hf::get_double(p, "mscale", 0.0, where);
    const double mscale_all_dim = hf::get_double(p, "mscale_all_dim", 0.0, where);
    if (!hf::has(p, "attention_factor"))
      o.attention_factor = mscale != 0 && mscale_all_dim != 0
                               ? yarn_mscale(o.factor, mscale) / yarn_mscale(o.factor, mscale_all_dim)
                               : yarn_mscale(o.factor, 1.0);
  }

  if (hf::has(p, "mrope_section")) {
    const auto& s = p.at("mrope_section");
    MVB_CHECK(s.is_array() && s.size() == 3, where, ": ", key, ".mrope_section must be a list of 3 integers (got ",
              s.dump(), ")");
    for (const auto& v : s) {
      MVB_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0, where, ": ", key,
                ".mrope_section must be a list of 3 non-negative integers (got ", s.dump(), ")");
      o.mrope_section.push_back(v.get<int64_t>());
    }
  } else if (is_qwen2_vl(model_type)) {
    o.mrope_section = {16, 24, 24};  // Qwen2VLRotaryEmbedding's default
  }
  if (!o.mrope_section.empty()) {
    const int64_t sum = std::accumulate(o.mrope_section.begin(), o.mrope_section.end(), int64_t{0});
    const int64_t half = (o.rotary_dim ? o.rotary_dim : head_dim) / 2;
    MVB_CHECK(sum == half, where, ": ", key, ".mrope_section sums to ", sum, " but the rotary half-dimension is ",
              half);
  }
  return o;
}

RotaryEmbedding::RotaryEmbedding(const RopeOptions& o, int64_t head_dim) : opts_(o) {
  if (!opts_.enabled) return;
  if (opts_.rotary_dim == 0) opts_.rotary_dim = head_dim;
  const int64_t dim = opts_.rotary_dim;
  MVB_CHECK(dim > 0 && dim % 2 == 0 && dim <= head_dim, "rotary dimension ", dim, " must be even and <= head_dim ",
            head_dim);
  if (opts_.type == "default" || opts_.type == "dynamic") {
    // dynamic: the default frequencies until positions pass max_position_embeddings (cos_sin rescales).
    inv_freq_ = default_inv_freq(opts_.theta, dim);
  } else if (opts_.type == "linear") {
    inv_freq_ = default_inv_freq(opts_.theta, dim) / opts_.factor;
  } else if (opts_.type == "llama3") {
    MVB_CHECK(opts_.original_max_position_embeddings > 0, "llama3 rope needs original_max_position_embeddings");
    inv_freq_ = llama3_inv_freq(opts_, dim);
  } else if (opts_.type == "yarn") {
    if (opts_.original_max_position_embeddings <= 0)
      opts_.original_max_position_embeddings = opts_.max_position_embeddings;
    inv_freq_ = yarn_inv_freq(opts_, dim);
    attention_scaling_ = opts_.attention_factor > 0 ? opts_.attention_factor : yarn_mscale(opts_.factor, 1.0);
  } else {
    throw Error("unsupported rope type '" + opts_.type + "' (supported: default, linear, dynamic, llama3, yarn)");
  }
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cos_sin(const at::Tensor& position_ids) const {
  MVB_CHECK(inv_freq_.defined(), "rotary embedding is disabled or not initialised");
  const bool mrope = !opts_.mrope_section.empty();
  at::Tensor inv = inv_freq_.to(position_ids.device());
  if (opts_.type == "dynamic") {
    // transformers' dynamic NTK: past max_position_embeddings the base grows with the longest
    // sequence of the batch (max position + 1), in float32 as its rope init computes it.
    const int64_t seq_len = position_ids.max().item<int64_t>() + 1;
    if (seq_len > opts_.max_position_embeddings) {
      const int64_t dim = opts_.rotary_dim;
      at::Tensor s = at::scalar_tensor(static_cast<double>(seq_len), at::kFloat);
      at::Tensor base = opts_.theta * at::pow(opts_.factor * s / static_cast<double>(opts_.max_position_embeddings) -
                                                  (opts_.factor - 1),
                                              static_cast<double>(dim) / (dim - 2));
      inv = (1.0 / at::pow(base, at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim)))
                .to(position_ids.device());
    }
  }
  at::Tensor freqs;  // [B, L, rotary_dim / 2]
  if (mrope) {
    // Three position streams (temporal, height, width); frequency chunk i of mrope_section comes from
    // stream i % 3 (Qwen2VLRotaryEmbedding.recomposition_frequencies).
    at::Tensor pos = position_ids.dim() == 2 ? position_ids.unsqueeze(0).expand({3, -1, -1}) : position_ids;
    MVB_CHECK(pos.dim() == 3 && pos.size(0) == 3, "M-RoPE position ids must be [3, B, L] (got ", position_ids.sizes(),
              ")");
    at::Tensor all = pos.unsqueeze(-1).to(at::kFloat) * inv;  // [3, B, L, dim / 2]
    std::vector<at::Tensor> parts;
    int64_t start = 0;
    for (size_t i = 0; i < opts_.mrope_section.size(); ++i) {
      parts.push_back(all[static_cast<int64_t>(i % 3)].narrow(-1, start, opts_.mrope_section[i]));
      start += opts_.mrope_section[i];
    }
    freqs = at::cat(parts, -1);
  } else {
    MVB_CHECK(position_ids.dim() == 2, "position ids must be [B, L] (got ", position_ids.sizes(), ")");
    freqs = position_ids.unsqueeze(-1).to(at::kFloat) * inv;
  }
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  at::Tensor cos = emb.cos(), sin = emb.sin();
  if (attention_scaling_ != 1.0) {
    cos.mul_(attention_scaling_);
    sin.mul_(attention_scaling_);
  }
  return {cos, sin};
}

namespace {
// x * cos + rotate_half(x) * sin over the last dim, rotate_half(x) = cat(-x2, x1); cos/sin [B, 1, L, d].
at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return (x * cos).add_(rotated.mul_(sin));
}
}  // namespace

std::pair<at::Tensor, at::Tensor> apply_rotary(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                               const at::Tensor& sin) {
  // transformers casts cos/sin to the hidden states' dtype before the products (bf16 models rotate in bf16).
  at::Tensor c = cos.unsqueeze(1).to(q.scalar_type()), s = sin.unsqueeze(1).to(q.scalar_type());
  const int64_t rd = c.size(-1), d = q.size(-1);
  if (rd == d) return {rotate(q, c, s), rotate(k, c, s)};
  auto partial = [&](const at::Tensor& x) {
    return at::cat({rotate(x.narrow(-1, 0, rd), c, s), x.narrow(-1, rd, d - rd)}, -1);
  };
  return {partial(q), partial(k)};
}

}  // namespace mvb::nn
