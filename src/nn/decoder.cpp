#include "medvlmbench/nn/decoder.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/normalization.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/nn/blas_kernels.h"
#include "medvlmbench/nn/checkpoint.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::nn {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

enum class Family { kLlama, kMistral, kQwen2, kQwen2Vl, kQwen3, kGemma3 };

Family family_of(const std::string& model_type, const std::string& where) {
  // The original LLaVA layout ("llava", "llava_llama") keeps LLaMA's keys at the top level;
  // LLaVA-Med v1.5 is "llava_mistral".
  if (model_type == "llama" || model_type == "llava" || model_type == "llava_llama") return Family::kLlama;
  if (model_type == "mistral" || model_type == "llava_mistral") return Family::kMistral;
  if (model_type == "qwen2") return Family::kQwen2;
  if (model_type == "qwen3") return Family::kQwen3;
  if (starts_with(model_type, "qwen2_vl") || starts_with(model_type, "qwen2_5_vl")) return Family::kQwen2Vl;
  if (model_type == "gemma3_text") return Family::kGemma3;
  throw Error(where + ": model_type '" + model_type +
              "' is not a decoder this build runs (llama, mistral, qwen2, qwen3, qwen2_vl, qwen2_5_vl, gemma3_text and "
              "llava's text model)");
}

// The most negative finite value of `dtype`, which transformers fills masked scores with: finite,
// so a fully masked row (a padding query) stays finite instead of turning into NaN.
double lowest(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return -65504.0;
    case at::kBFloat16:
      return -3.3895313892515355e38;
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

torch::nn::AnyModule make_norm(const DecoderOptions& o, int64_t dim) {
  if (o.norm == NormKind::kRmsNorm) return torch::nn::AnyModule(RMSNorm(dim, o.norm_eps, o.norm_weight_offset));
  return torch::nn::AnyModule(torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(o.norm_eps)));
}

// softmax(q k^T * scale + mask) v with grouped-query attention. q [B, H, L, D]; k, v [B, KV, S, D]
// (possibly strided views of the KV cache); mask additive [B, 1, L, S]. The `groups` query heads that
// share a kv head are folded into the rows of one product ([B, KV, groups * L, D] against
// [B, KV, S, D]), so the cached keys and values are never repeated per head (transformers' repeat_kv
// copies the whole cache of every layer at every step); the mask is what gets repeated, [L, S] per group.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, double scale) {
  const int64_t b = q.size(0), h = q.size(1), l = q.size(2), d = q.size(3);
  const int64_t kvh = k.size(1), s = k.size(2), groups = h / kvh;
#if MVB_TORCH_AT_LEAST(2, 1)
  // LibTorch's fused op (flash / memory-efficient kernels).
  at::Tensor qf = q.reshape({b, kvh, groups * l, d});
  at::Tensor m = mask;
  if (groups > 1 && m.defined())
    m = m.unsqueeze(2).expand({m.size(0), m.size(1), groups, l, s}).reshape({m.size(0), m.size(1), groups * l, s});
  return compat::scaled_dot_product_attention(qf, k, v, m, /*causal=*/false, scale).reshape({b, h, l, d});
#else
  // LibTorch 1.13 has no fused op. fp32 inference on OpenBLAS: one task per (sequence, head) (nn/blas_kernels.h);
  // otherwise the same steps written out, the mask added in place.
  if (blas_attention_applies(q, k, v, mask)) return blas_attention(q, k, v, mask, scale);
  at::Tensor qf = (q * scale).reshape({b, kvh, groups * l, d});
  at::Tensor scores = at::matmul(qf, k.transpose(-2, -1));  // [B, KV, groups * L, S]
  if (mask.defined()) scores.view({b, kvh, groups, l, s}).add_(mask.unsqueeze(2));
  // softmax in float32, as transformers' eager attention does for half types.
  at::Tensor probs =
      scores.scalar_type() == at::kFloat ? scores.softmax(-1) : at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, v).view({b, h, l, d});
#endif
}

// Gemma3TextConfig (transformers 4.50+; 5.x): the keys beyond LLaMA's, with its defaults. Options we
// do not implement (logit soft-capping, bidirectional text attention) are refused by name.
DecoderOptions gemma3_options(const nlohmann::json& c, DecoderOptions o, const std::string& src) {
  for (const char* k : {"final_logit_softcapping", "attn_logit_softcapping"})
    MVB_CHECK(!hf::has(c, k), src, ": ", k, " = ", c.at(k).dump(),
              " is not supported by this decoder (Gemma3 checkpoints leave it null)");
  MVB_CHECK(!hf::get_bool(c, "use_bidirectional_attention", false, src), src,
            ": use_bidirectional_attention = true (EmbeddingGemma) is not supported by this decoder");
  o.qkv_bias = o.o_bias = hf::get_bool(c, "attention_bias", false, src);
  o.qk_norm = true;
  o.norm_weight_offset = 1.0;  // Gemma3RMSNorm: x * (1 + weight), weights initialised to 0
  o.feedforward_norms = true;
  const double scalar = hf::get_double(c, "query_pre_attn_scalar", 256.0, src);
  MVB_CHECK(scalar > 0, src, ": query_pre_attn_scalar must be positive");
  o.attention_scale = 1.0 / std::sqrt(scalar);
  // Gemma3TextScaledWordEmbedding: times hidden_size ** 0.5 (rounded to the weights' dtype in embed()).
  o.embedding_multiplier = std::sqrt(static_cast<double>(o.hidden_size));
  // null = no window (every layer global); absent = Gemma3TextConfig's 4096.
  o.sliding_window = c.contains("sliding_window") && c.at("sliding_window").is_null()
                         ? 0
                         : hf::get_int(c, "sliding_window", 4096, src);
  MVB_CHECK(o.sliding_window >= 0, src, ": sliding_window must be positive or null");
  if (hf::has(c, "layer_types")) {
    const auto& types = c.at("layer_types");
    MVB_CHECK(types.is_array() && static_cast<int64_t>(types.size()) == o.num_layers, src,
              ": layer_types must list one entry per layer (", o.num_layers, ")");
    for (const auto& t : types) {
      MVB_CHECK(t.is_string() && (t == "full_attention" || t == "sliding_attention"), src,
                ": layer_types entries must be \"full_attention\" or \"sliding_attention\" (got ", t.dump(), ")");
      o.layer_sliding.push_back(t == "sliding_attention");
    }
  } else {
    // Gemma3TextConfig.__post_init__: every sliding_window_pattern-th layer is global (4B: 5 local, 1 global).
    const int64_t pattern = hf::get_int(c, "sliding_window_pattern", 6, src);
    MVB_CHECK(pattern > 0, src, ": sliding_window_pattern must be positive");
    for (int64_t i = 0; i < o.num_layers; ++i) o.layer_sliding.push_back((i + 1) % pattern != 0);
  }
  if (o.sliding_window == 0) o.layer_sliding.assign(o.num_layers, false);

  // Two ropes: global layers rope_theta (1e6) + rope_scaling, local ones rope_local_base_freq (1e4) without
  // scaling; transformers 5 writes them as rope_parameters {"full_attention": {...}, "sliding_attention": {...}}.
  nlohmann::json full = nlohmann::json::object(), local = nlohmann::json::object();
  if (hf::has(c, "rope_parameters") && c.at("rope_parameters").is_object() &&
      (c.at("rope_parameters").contains("full_attention") || c.at("rope_parameters").contains("sliding_attention"))) {
    const auto& p = c.at("rope_parameters");
    for (const auto& [k, v] : p.items())
      MVB_CHECK(k == "full_attention" || k == "sliding_attention", src, ": rope_parameters.", k,
                " is not a Gemma3 layer type (full_attention, sliding_attention)");
    if (p.contains("full_attention") && !p.at("full_attention").is_null()) full = p.at("full_attention");
    if (p.contains("sliding_attention") && !p.at("sliding_attention").is_null()) local = p.at("sliding_attention");
    MVB_CHECK(full.is_object() && local.is_object(), src, ": rope_parameters entries must be objects");
  } else {
    if (hf::has(c, "rope_parameters")) full = c.at("rope_parameters");
    if (hf::has(c, "rope_scaling")) full = c.at("rope_scaling");
    MVB_CHECK(full.is_object(), src, ": rope_scaling must be an object (got ", full.dump(), ")");
    if (!full.contains("rope_theta")) full["rope_theta"] = hf::get_double(c, "rope_theta", 1000000.0, src);
    local["rope_theta"] = hf::get_double(c, "rope_local_base_freq", 10000.0, src);
  }
  if (!full.contains("rope_theta")) full["rope_theta"] = 1000000.0;
  if (!local.contains("rope_theta")) local["rope_theta"] = 10000.0;
  const int64_t max_pos = hf::get_int(c, "max_position_embeddings", 131072, src);
  auto rope_of = [&](const nlohmann::json& params, const std::string& which) {
    nlohmann::json flat = {
        {"model_type", "gemma3_text"}, {"rope_parameters", params}, {"max_position_embeddings", max_pos}};
    return rope_options_from_config(flat, o.head_dim, src + " rope (" + which + ")");
  };
  o.rope = rope_of(full, "full_attention");
  o.sliding_rope = rope_of(local, "sliding_attention");
  o.has_sliding_rope = true;
  o.tie_word_embeddings = hf::get_bool(c, "tie_word_embeddings", true, src);
  o.pad_token_id = hf::get_int(c, "pad_token_id", 0, src);
  return o;
}

}  // namespace

DecoderOptions decoder_options_from_config(const nlohmann::json& config, const std::string& where) {
  // A whole VLM config (llava-hf, qwen2_vl) carries the decoder in text_config.
  const bool nested = hf::has(config, "text_config") && !hf::has(config, "hidden_size");
  const nlohmann::json& c = nested ? config.at("text_config") : config;
  const std::string src = nested ? where + " (text_config)" : where;
  MVB_CHECK(c.is_object(), src, ": the text config must be a JSON object");
  const std::string model_type = hf::get_string(c, "model_type", "llama", src);
  const Family family = family_of(model_type, src);

  DecoderOptions o;
  // transformers' class defaults per model_type (LlamaConfig, MistralConfig, Qwen2Config, Qwen2VLTextConfig).
  struct Defaults {
    int64_t vocab, hidden, intermediate, layers, heads;
    int64_t kv_heads;  // -1 = num_attention_heads
    double eps;
  };
  Defaults d{32000, 4096, 11008, 32, 32, -1, 1e-6};
  if (family == Family::kGemma3) d = {262208, 2304, 9216, 26, 8, 4, 1e-6};
  if (family == Family::kMistral) d = {32000, 4096, 14336, 32, 32, 8, 1e-6};
  if (family == Family::kQwen2) d = {151936, 4096, 22016, 32, 32, -1, 1e-6};
  if (family == Family::kQwen2Vl) d = {152064, 8192, 29568, 80, 64, 8, 1e-5};
  if (family == Family::kQwen3) d = {151936, 4096, 22016, 32, 32, -1, 1e-6};

  o.vocab_size = hf::get_int(c, "vocab_size", d.vocab, src);
  o.hidden_size = hf::get_int(c, "hidden_size", d.hidden, src);
  o.intermediate_size = hf::get_int(c, "intermediate_size", d.intermediate, src);
  o.num_layers = hf::get_int(c, "num_hidden_layers", d.layers, src);
  o.num_heads = hf::get_int(c, "num_attention_heads", d.heads, src);
  o.num_kv_heads = hf::get_int(c, "num_key_value_heads", d.kv_heads < 0 ? o.num_heads : d.kv_heads, src);
  MVB_CHECK(o.vocab_size > 0 && o.hidden_size > 0 && o.intermediate_size > 0 && o.num_layers > 0 && o.num_heads > 0,
            src,
            ": vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads must be "
            "positive");
  MVB_CHECK(o.num_kv_heads > 0 && o.num_heads % o.num_kv_heads == 0, src, ": num_attention_heads ", o.num_heads,
            " is not a multiple of num_key_value_heads ", o.num_kv_heads);
  // Qwen3Config's head_dim is its own default (128), not hidden_size / num_attention_heads.
  // Qwen3Config's and Gemma3TextConfig's head_dim are their own defaults (128, 256).
  const int64_t head_dim_default = family == Family::kQwen3    ? 128
                                   : family == Family::kGemma3 ? 256
                                                               : o.hidden_size / o.num_heads;
  o.head_dim = hf::get_int(c, "head_dim", head_dim_default, src);
  MVB_CHECK(o.head_dim > 0, src, ": head_dim must be positive");
  o.norm = NormKind::kRmsNorm;
  o.norm_eps = hf::get_double(c, "rms_norm_eps", d.eps, src);
  // Gemma3TextConfig calls it hidden_activation (gelu_pytorch_tanh).
  const std::string act_key = family == Family::kGemma3 ? "hidden_activation" : "hidden_act";
  const std::string act = hf::get_string(c, act_key, family == Family::kGemma3 ? "gelu_pytorch_tanh" : "silu", src);
  try {
    o.act = parse_activation(act);
  } catch (const Error& e) {
    throw Error(src + ": " + act_key + ": " + e.what());
  }
  o.mlp = MlpKind::kGated;

  if (family == Family::kLlama) {
    // LlamaAttention: attention_bias on q, k, v and o; LlamaMLP: mlp_bias on all three.
    o.qkv_bias = o.o_bias = hf::get_bool(c, "attention_bias", false, src);
    o.mlp_bias = hf::get_bool(c, "mlp_bias", false, src);
  } else if (family == Family::kQwen3) {
    // Qwen3Attention: attention_bias on all four projections, RMSNorm over head_dim on q and k.
    o.qkv_bias = o.o_bias = hf::get_bool(c, "attention_bias", false, src);
    o.qk_norm = true;
  } else if (family == Family::kQwen2 || family == Family::kQwen2Vl) {
    o.qkv_bias = true;  // Qwen2Attention: q/k/v with bias, o without (not configurable)
  }
  if (family == Family::kGemma3) return gemma3_options(c, o, src);

  if (family == Family::kMistral) {
    o.sliding_window = hf::get_int(c, "sliding_window", 4096, src);
  } else if (family == Family::kQwen2 || family == Family::kQwen2Vl || family == Family::kQwen3) {
    // Qwen2Config / Qwen3Config: the window applies only with use_sliding_window, to the layers layer_types marks
    // "sliding_attention" (by default those from max_window_layers on).
    if (hf::get_bool(c, "use_sliding_window", false, src)) {
      o.sliding_window = hf::get_int(c, "sliding_window", 4096, src);
      const int64_t from = hf::get_int(c, "max_window_layers", family == Family::kQwen2Vl ? 80 : 28, src);
      for (int64_t i = 0; i < o.num_layers; ++i) o.layer_sliding.push_back(i >= from);
    }
  }
  if (hf::has(c, "layer_types")) {
    const auto& types = c.at("layer_types");
    MVB_CHECK(types.is_array() && static_cast<int64_t>(types.size()) == o.num_layers, src,
              ": layer_types must list one entry per layer (", o.num_layers, ")");
    o.layer_sliding.clear();
    for (const auto& t : types) {
      MVB_CHECK(t.is_string() && (t == "full_attention" || t == "sliding_attention"), src,
                ": layer_types entries must be \"full_attention\" or \"sliding_attention\" (got ", t.dump(), ")");
      o.layer_sliding.push_back(t == "sliding_attention");
    }
    if (o.sliding_window == 0) {
      for (bool s : o.layer_sliding)
        MVB_CHECK(!s, src, ": layer_types has sliding_attention layers but no sliding_window is set");
    }
  }
  MVB_CHECK(o.sliding_window >= 0, src, ": sliding_window must be positive or null");

  o.rope = rope_options_from_config(c, o.head_dim, src);
  o.tie_word_embeddings = hf::get_bool(c, "tie_word_embeddings", false, src);
  o.pad_token_id = hf::get_int(c, "pad_token_id", -1, src);
  return o;
}

// ---------------------------------------------------------------------------------------------------

RMSNormImpl::RMSNormImpl(int64_t dim, double e, double offset) : eps(e), weight_offset(offset) {
  weight = register_parameter("weight", offset != 0 ? at::zeros({dim}) : at::ones({dim}));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  // LlamaRMSNorm: normalise in float32, cast back, then scale by the weight (in its dtype). Gemma
  // scales by (1 + weight) in float32 before the cast.
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps));
  if (weight_offset != 0) return normed.mul_(weight.to(at::kFloat) + weight_offset).to(x.scalar_type());
  if (x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat) return normed.mul_(weight);
  return weight * normed.to(x.scalar_type());
}

DecoderAttentionImpl::DecoderAttentionImpl(const DecoderOptions& o, int64_t index) : opts(o), layer_index(index) {
  q_proj = register_module("q_proj", Linear(o.hidden_size, o.num_heads * o.head_dim, o.qkv_bias));
  k_proj = register_module("k_proj", Linear(o.hidden_size, o.num_kv_heads * o.head_dim, o.qkv_bias));
  v_proj = register_module("v_proj", Linear(o.hidden_size, o.num_kv_heads * o.head_dim, o.qkv_bias));
  o_proj = register_module("o_proj", Linear(o.num_heads * o.head_dim, o.hidden_size, o.o_bias));
  if (o.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(o.head_dim, o.norm_eps, o.norm_weight_offset));
    k_norm = register_module("k_norm", RMSNorm(o.head_dim, o.norm_eps, o.norm_weight_offset));
  }
}

at::Tensor DecoderAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cos,
                                         const at::Tensor& sin, KVCache* cache) {
  const int64_t b = x.size(0), l = x.size(1), d = opts.head_dim;
  // [B, L, heads * D] -> [B, L, heads, D] (QK-norm works per head here) -> [B, heads, L, D]
  at::Tensor q = q_proj->forward(x).view({b, l, opts.num_heads, d});
  at::Tensor k = k_proj->forward(x).view({b, l, opts.num_kv_heads, d});
  at::Tensor v = v_proj->forward(x).view({b, l, opts.num_kv_heads, d}).transpose(1, 2);
  if (opts.qk_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  if (cos.defined()) std::tie(q, k) = apply_rotary(q, k, cos, sin);
  if (cache) std::tie(k, v) = cache->append(layer_index, k, v);
  const double scale = opts.attention_scale > 0 ? opts.attention_scale : 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor o = attend(q, k, v, mask, scale);  // [B, heads, L, D]
  return o_proj->forward(o.transpose(1, 2).reshape({b, l, opts.num_heads * d}));
}

DecoderMlpImpl::DecoderMlpImpl(const DecoderOptions& o) : opts(o) {
  if (o.mlp == MlpKind::kGated) {
    gate_proj = register_module("gate_proj", Linear(o.hidden_size, o.intermediate_size, o.mlp_bias));
    up_proj = register_module("up_proj", Linear(o.hidden_size, o.intermediate_size, o.mlp_bias));
    down_proj = register_module("down_proj", Linear(o.intermediate_size, o.hidden_size, o.mlp_bias));
  } else {
    fc1 = register_module("fc1", Linear(o.hidden_size, o.intermediate_size, o.mlp_bias));
    fc2 = register_module("fc2", Linear(o.intermediate_size, o.hidden_size, o.mlp_bias));
  }
}

at::Tensor DecoderMlpImpl::forward(const at::Tensor& x) {
  const bool in_place = !at::GradMode::is_enabled();
  if (opts.mlp == MlpKind::kGated) {
    at::Tensor g = gate_proj->forward(x);
    if (in_place && opts.act == Activation::kSilu) {
      at::silu_(g);  // the widest activation is rewritten in place instead of allocating per step
      return down_proj->forward(g.mul_(up_proj->forward(x)));
    }
    return down_proj->forward(activate(g, opts.act) * up_proj->forward(x));
  }
  return fc2->forward(activate(fc1->forward(x), opts.act));
}

DecoderLayerImpl::DecoderLayerImpl(const DecoderOptions& o, int64_t index) : opts(o) {
  input_layernorm = make_norm(o, o.hidden_size);
  register_module("input_layernorm", input_layernorm.ptr());
  self_attn = register_module("self_attn", DecoderAttention(o, index));
  post_attention_layernorm = make_norm(o, o.hidden_size);
  register_module("post_attention_layernorm", post_attention_layernorm.ptr());
  mlp = register_module("mlp", DecoderMlp(o));
  if (o.feedforward_norms) {
    pre_feedforward_layernorm = make_norm(o, o.hidden_size);
    register_module("pre_feedforward_layernorm", pre_feedforward_layernorm.ptr());
    post_feedforward_layernorm = make_norm(o, o.hidden_size);
    register_module("post_feedforward_layernorm", post_feedforward_layernorm.ptr());
  }
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cos,
                                     const at::Tensor& sin, KVCache* cache) {
  const bool in_place = !at::GradMode::is_enabled();
  at::Tensor a = self_attn->forward(input_layernorm.forward<at::Tensor>(x), mask, cos, sin, cache);
  if (opts.feedforward_norms) {
    // Gemma3DecoderLayer: norm(attn) + x, then norm(mlp(norm(h))) + h.
    at::Tensor h = post_attention_layernorm.forward<at::Tensor>(a) + x;
    at::Tensor m =
        post_feedforward_layernorm.forward<at::Tensor>(mlp->forward(pre_feedforward_layernorm.forward<at::Tensor>(h)));
    return in_place ? m.add_(h) : m + h;
  }
  at::Tensor h = in_place ? a.add_(x) : a + x;
  at::Tensor m = mlp->forward(post_attention_layernorm.forward<at::Tensor>(h));
  return in_place ? m.add_(h) : m + h;
}

DecoderModelImpl::DecoderModelImpl(const DecoderOptions& o) : opts(o) {
  make_mkl_reproducible();  // the same logits run to run under MKL (nn/cpu_threads.h)
  MVB_CHECK(o.num_heads % o.num_kv_heads == 0, "num_heads ", o.num_heads, " is not a multiple of num_kv_heads ",
            o.num_kv_heads);
  MVB_CHECK(o.layer_sliding.empty() || static_cast<int64_t>(o.layer_sliding.size()) == o.num_layers,
            "layer_sliding lists ", o.layer_sliding.size(), " layers, the model has ", o.num_layers);
  embed_tokens = register_module("embed_tokens", Embedding(o.vocab_size, o.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    typed_layers.push_back(DecoderLayer(o, i));
    layers->push_back(typed_layers.back());
  }
  norm = make_norm(o, o.hidden_size);
  register_module("norm", norm.ptr());
  if (o.rope.enabled) rotary = RotaryEmbedding(o.rope, o.head_dim);
  if (o.has_sliding_rope && o.sliding_rope.enabled) sliding_rotary = RotaryEmbedding(o.sliding_rope, o.head_dim);
}

at::Tensor DecoderModelImpl::embed(const at::Tensor& input_ids) {
  at::Tensor e = embed_tokens->forward(input_ids);
  // Gemma multiplies by sqrt(hidden) rounded to the embeddings' dtype first.
  if (opts.embedding_multiplier != 1.0) e = e * at::scalar_tensor(opts.embedding_multiplier, e.options()).item();
  return e;
}

DecoderOutputs DecoderModelImpl::forward(const DecoderInputs& in, KVCache* cache, bool output_hidden_states) {
  at::Tensor x = in.inputs_embeds;
  MVB_CHECK(x.defined() && x.dim() == 3 && x.size(2) == opts.hidden_size, "decoder inputs_embeds must be [B, L, ",
            opts.hidden_size, "]");
  const int64_t b = x.size(0), l = x.size(1), past = cache ? cache->length() : 0;
  if (cache) MVB_CHECK(cache->batch() == b, "KV cache holds ", cache->batch(), " rows but the input has ", b);
  if (in.attention_mask.defined())
    MVB_CHECK(in.attention_mask.dim() == 2 && in.attention_mask.size(0) == b && in.attention_mask.size(1) == past + l,
              "attention_mask must be [B, past + L] = [", b, ", ", past + l, "], got ", in.attention_mask.sizes());

  at::Tensor cos, sin, local_cos, local_sin;
  if (opts.rope.enabled || opts.has_sliding_rope) {
    at::Tensor pos = in.position_ids;
    if (!pos.defined()) {
      pos = at::arange(past, past + l, at::TensorOptions().dtype(at::kLong).device(x.device()))
                .unsqueeze(0)
                .expand({b, l});
    }
    if (opts.rope.enabled) std::tie(cos, sin) = rotary.cos_sin(pos);
    if (opts.has_sliding_rope && opts.sliding_rope.enabled)
      std::tie(local_cos, local_sin) = sliding_rotary.cos_sin(pos);
  }

  const bool any_sliding = opts.sliding_window > 0 && (opts.layer_sliding.empty() ||
                                                       std::find(opts.layer_sliding.begin(), opts.layer_sliding.end(),
                                                                 true) != opts.layer_sliding.end());
  const bool any_full = opts.sliding_window == 0 ||
                        (!opts.layer_sliding.empty() && std::find(opts.layer_sliding.begin(), opts.layer_sliding.end(),
                                                                  false) != opts.layer_sliding.end());
  at::Tensor full_mask, sliding_mask;
  if (any_full)
    full_mask =
        decoder_attention_mask(b, l, past, in.attention_mask, 0, in.bidirectional_groups, x.scalar_type(), x.device());
  if (any_sliding)
    sliding_mask = decoder_attention_mask(b, l, past, in.attention_mask, opts.sliding_window, in.bidirectional_groups,
                                          x.scalar_type(), x.device());

  DecoderOutputs out;
  if (output_hidden_states) out.hidden_states.push_back(x);
  for (size_t i = 0; i < typed_layers.size(); ++i) {
    const bool sliding = opts.sliding_window > 0 && (opts.layer_sliding.empty() || opts.layer_sliding[i]);
    const bool local_rope = sliding && opts.has_sliding_rope;
    const at::Tensor& m = sliding ? sliding_mask : full_mask;
    const at::Tensor& c = local_rope ? local_cos : cos;
    const at::Tensor& s = local_rope ? local_sin : sin;
    if (is_training() && cache == nullptr && at::GradMode::is_enabled() && gradient_checkpointing(*this)) {
      // Only the layer's input is kept; its activations are recomputed in backward (nn/checkpoint.h).
      DecoderLayer layer = typed_layers[i];
      std::vector<at::Tensor> trainable;
      for (const auto& p : layer->parameters())
        if (p.requires_grad()) trainable.push_back(p);
      x = checkpoint([layer, m, c, s](const at::Tensor& h) mutable { return layer->forward(h, m, c, s, nullptr); }, x,
                     trainable);
    } else {
      x = typed_layers[i]->forward(x, m, c, s, cache);
    }
    if (output_hidden_states) out.hidden_states.push_back(x);
  }
  if (cache) cache->commit(l);
  out.last_hidden_state = norm.forward<at::Tensor>(x);
  return out;
}

CausalLMImpl::CausalLMImpl(const DecoderOptions& o) : opts(o) {
  model = register_module("model", DecoderModel(o));
  if (o.tie_word_embeddings) {
    // Not registered: the head is embed_tokens' weight itself (the same tensor, so loading, casting
    // and moving the embeddings carry the head along), and checkpoints of tied models lack lm_head.
    lm_head = Linear(o.hidden_size, 1, /*bias=*/false);
    lm_head->weight = model->embed_tokens->weight;
    lm_head->out_features = o.vocab_size;
  } else {
    lm_head = register_module("lm_head", Linear(o.hidden_size, o.vocab_size, /*bias=*/false));
  }
}

at::Tensor CausalLMImpl::forward(const DecoderInputs& in, KVCache* cache, LogitsFor which) {
  at::Tensor h = model->forward(in, cache).last_hidden_state;
  if (which == LogitsFor::kLast) h = h.select(1, h.size(1) - 1);
  at::Tensor logits = opts.tie_word_embeddings ? at::linear(h, model->embed_tokens->weight) : lm_head->forward(h);
  return logits.to(at::kFloat);
}

KVCache CausalLMImpl::make_cache(int64_t batch, int64_t capacity) const {
  const at::Tensor& w = model->embed_tokens->weight;
  KVCacheShape s;
  s.num_layers = opts.num_layers;
  s.batch = batch;
  s.kv_heads = opts.num_kv_heads;
  s.head_dim = opts.head_dim;
  s.capacity = capacity;
  return KVCache(s, w.scalar_type(), w.device());
}

at::Tensor decoder_attention_mask(int64_t batch, int64_t new_len, int64_t past_len, const at::Tensor& attention_mask,
                                  int64_t sliding_window, const at::Tensor& bidirectional_groups, at::ScalarType dtype,
                                  c10::Device device) {
  const int64_t total = past_len + new_len;
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  // Query i sits at position past + i of the sequence, key j at position j (indices into the padded
  // rows, as transformers' cache_position: left padding shifts both alike).
  at::Tensor qpos = at::arange(past_len, total, long_opts).view({new_len, 1});
  at::Tensor kpos = at::arange(0, total, long_opts).view({1, total});
  at::Tensor allowed = kpos <= qpos;  // [L, P + L]
  if (sliding_window > 0) allowed = allowed.logical_and(kpos > qpos - sliding_window);
  allowed = allowed.view({1, 1, new_len, total}).expand({batch, 1, new_len, total});
  if (bidirectional_groups.defined()) {
    MVB_CHECK(bidirectional_groups.dim() == 2 && bidirectional_groups.size(0) == batch &&
                  bidirectional_groups.size(1) == new_len,
              "bidirectional_groups must be [B, L] = [", batch, ", ", new_len, "], got ", bidirectional_groups.sizes());
    // Tokens of one group (an image) see each other both ways, past the causal and window limits.
    at::Tensor g = bidirectional_groups.to(device).to(at::kLong);
    at::Tensor same = (g.unsqueeze(2) == g.unsqueeze(1)).logical_and(g.unsqueeze(2) > 0);  // [B, L, L]
    at::Tensor extra = at::zeros({batch, new_len, total}, long_opts.dtype(at::kBool));
    extra.narrow(2, past_len, new_len).copy_(same);
    allowed = allowed.logical_or(extra.unsqueeze(1));
  }
  if (attention_mask.defined()) {
    MVB_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == batch && attention_mask.size(1) == total,
              "attention_mask must be [B, past + L] = [", batch, ", ", total, "], got ", attention_mask.sizes());
    allowed = allowed.logical_and(attention_mask.to(device).to(at::kBool).view({batch, 1, 1, total}));
  }
  return at::zeros({batch, 1, new_len, total}, at::TensorOptions().dtype(dtype).device(device))
      .masked_fill_(allowed.logical_not(), lowest(dtype));
}

}  // namespace mvb::nn
