// OPTForCausalLM (transformers 5.23 modeling_opt.py); see the header.
#include "medvlmbench/models/blip2/opt.h"

#include <ATen/ATen.h>

#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::opt {
namespace {

constexpr int64_t kPositionOffset = 2;  // OPTLearnedPositionalEmbedding.offset

torch::nn::LayerNorm layer_norm(const OptConfig& c) {
  // nn.LayerNorm's default eps (OPT has no layer_norm_eps key).
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({c.hidden_size}).eps(1e-5).elementwise_affine(c.layer_norm_elementwise_affine));
}

}  // namespace

OptConfig OptConfig::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, ": the OPT text_config must be a JSON object");
  OptConfig c;
  const std::string type = nn::hf::get_string(j, "model_type", "opt", where);
  MVB_CHECK(type == "opt", where, ": text_config.model_type \"", type,
            "\" is not supported; BLIP-2 runs here with an OPT language model (Flan-T5 checkpoints are not supported)");
  c.vocab_size = nn::hf::get_int(j, "vocab_size", c.vocab_size, where);
  c.hidden_size = nn::hf::get_int(j, "hidden_size", c.hidden_size, where);
  c.num_hidden_layers = nn::hf::get_int(j, "num_hidden_layers", c.num_hidden_layers, where);
  c.ffn_dim = nn::hf::get_int(j, "ffn_dim", c.ffn_dim, where);
  c.num_attention_heads = nn::hf::get_int(j, "num_attention_heads", c.num_attention_heads, where);
  c.max_position_embeddings = nn::hf::get_int(j, "max_position_embeddings", c.max_position_embeddings, where);
  c.do_layer_norm_before = nn::hf::get_bool(j, "do_layer_norm_before", true, where);
  c.remove_final_layer_norm = nn::hf::get_bool(j, "_remove_final_layer_norm", false, where);
  c.enable_bias = nn::hf::get_bool(j, "enable_bias", true, where);
  c.layer_norm_elementwise_affine = nn::hf::get_bool(j, "layer_norm_elementwise_affine", true, where);
  c.activation_function = nn::hf::get_string(j, "activation_function", "relu", where);
  c.tie_word_embeddings = nn::hf::get_bool(j, "tie_word_embeddings", true, where);
  if (nn::hf::has(j, "pad_token_id")) c.pad_token_id = nn::hf::get_int(j, "pad_token_id", 1, where);
  if (nn::hf::has(j, "bos_token_id")) c.bos_token_id = nn::hf::get_int(j, "bos_token_id", 2, where);
  if (nn::hf::has(j, "eos_token_id")) {
    const auto& e = j.at("eos_token_id");
    c.eos_token_ids.clear();
    if (e.is_array()) {
      for (const auto& v : e) {
        MVB_CHECK(v.is_number_integer(), where, ": text_config.eos_token_id must hold integers");
        c.eos_token_ids.push_back(v.get<int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(nn::hf::get_int(j, "eos_token_id", 2, where));
    }
  }
  const int64_t proj =
      nn::hf::has(j, "word_embed_proj_dim") ? nn::hf::get_int(j, "word_embed_proj_dim", 0, where) : c.hidden_size;
  MVB_CHECK(proj == c.hidden_size, where, ": text_config.word_embed_proj_dim ", proj, " differs from hidden_size ",
            c.hidden_size, " (OPT's project_in / project_out, as in OPT-350m) and is not supported");
  // Post-LN OPT (OPT-350m, which also projects its embeddings) has no checkpoint here to test against.
  MVB_CHECK(c.do_layer_norm_before, where,
            ": text_config.do_layer_norm_before false (post-LN OPT, as OPT-350m) is not supported");
  MVB_CHECK(c.hidden_size > 0 && c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0, where,
            ": text_config.hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
            c.num_attention_heads);
  (void)nn::parse_activation(c.activation_function);  // refuses an unknown activation by name
  return c;
}

OptAttentionImpl::OptAttentionImpl(const OptConfig& c, int64_t index)
    : heads(c.num_attention_heads), layer_index(index) {
  // Registration order is transformers' (k, v, q, out); names are what matter for loading.
  k_proj = register_module("k_proj", nn::Linear(c.hidden_size, c.hidden_size, c.enable_bias));
  v_proj = register_module("v_proj", nn::Linear(c.hidden_size, c.hidden_size, c.enable_bias));
  q_proj = register_module("q_proj", nn::Linear(c.hidden_size, c.hidden_size, c.enable_bias));
  out_proj = register_module("out_proj", nn::Linear(c.hidden_size, c.hidden_size, c.enable_bias));
}

at::Tensor OptAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask, nn::KVCache* cache) {
  const int64_t b = x.size(0), l = x.size(1), h = x.size(2), d = h / heads;
  // OPT scales the query before the product (its original order), then attends with scale 1.
  at::Tensor q =
      (q_proj->forward(x) * (1.0 / std::sqrt(static_cast<double>(d)))).view({b, l, heads, d}).transpose(1, 2);
  at::Tensor k = k_proj->forward(x).view({b, l, heads, d}).transpose(1, 2);
  at::Tensor v = v_proj->forward(x).view({b, l, heads, d}).transpose(1, 2);
  if (cache) std::tie(k, v) = cache->append(layer_index, k, v);
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2));
  if (mask.defined()) scores = scores + mask;
  // transformers' OPT eager attention: softmax in float32 for half types, then back.
  at::Tensor probs = scores.scalar_type() == at::kFloat ? scores.softmax(-1)
                                                        : at::softmax(scores, -1, at::kFloat).to(scores.scalar_type());
  at::Tensor o = at::matmul(probs, v).transpose(1, 2).reshape({b, l, h});
  return out_proj->forward(o);
}

OptDecoderLayerImpl::OptDecoderLayerImpl(const OptConfig& c, int64_t index)
    : act(nn::parse_activation(c.activation_function)) {
  self_attn = register_module("self_attn", OptAttention(c, index));
  self_attn_layer_norm = register_module("self_attn_layer_norm", layer_norm(c));
  fc1 = register_module("fc1", nn::Linear(c.hidden_size, c.ffn_dim, c.enable_bias));
  fc2 = register_module("fc2", nn::Linear(c.ffn_dim, c.hidden_size, c.enable_bias));
  final_layer_norm = register_module("final_layer_norm", layer_norm(c));
}

at::Tensor OptDecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& mask, nn::KVCache* cache) {
  // Pre-LN (do_layer_norm_before): x + attn(LN(x)), then h + fc2(relu(fc1(LN(h)))).
  const at::Tensor h = x + self_attn->forward(self_attn_layer_norm->forward(x), mask, cache);
  return h + fc2->forward(nn::activate(fc1->forward(final_layer_norm->forward(h)), act));
}

OptDecoderImpl::OptDecoderImpl(const OptConfig& c) : cfg(c) {
  embed_tokens = register_module("embed_tokens", nn::Embedding(c.vocab_size, c.hidden_size));
  embed_positions =
      register_module("embed_positions", nn::Embedding(c.max_position_embeddings + kPositionOffset, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    typed_layers.push_back(OptDecoderLayer(c, i));
    layers->push_back(typed_layers.back());
  }
  if (!c.remove_final_layer_norm) final_layer_norm = register_module("final_layer_norm", layer_norm(c));
}

at::Tensor OptDecoderImpl::forward(const nn::DecoderInputs& in, nn::KVCache* cache) {
  at::Tensor x = in.inputs_embeds;
  MVB_CHECK(x.defined() && x.dim() == 3 && x.size(2) == cfg.hidden_size, "OPT inputs_embeds must be [B, L, ",
            cfg.hidden_size, "]");
  const int64_t b = x.size(0), l = x.size(1), past = cache ? cache->length() : 0;
  at::Tensor pos = in.position_ids;
  if (!pos.defined()) {
    at::Tensor m = in.attention_mask.defined()
                       ? in.attention_mask
                       : at::ones({b, past + l}, at::TensorOptions().dtype(at::kLong).device(x.device()));
    pos = positions_from_mask(m).narrow(1, past, l);
  }
  MVB_CHECK(pos.dim() == 2 && pos.size(0) == b && pos.size(1) == l, "OPT position_ids must be [B, L] = [", b, ", ", l,
            "], got ", pos.sizes());
  const int64_t max_pos = pos.max().item<int64_t>();
  MVB_CHECK(max_pos < cfg.max_position_embeddings, "OPT position ", max_pos, " is beyond its ",
            cfg.max_position_embeddings, " learned positions (max_position_embeddings): the prompt plus the new ",
            "tokens are too long; lower --max_new_tokens");
  x = x + embed_positions->forward(pos.to(x.device()) + kPositionOffset).to(x.scalar_type());
  const at::Tensor mask = nn::decoder_attention_mask(b, l, past, in.attention_mask, 0, {}, x.scalar_type(), x.device());
  for (auto& layer : typed_layers) x = layer->forward(x, mask, cache);
  if (cache) cache->commit(l);
  if (!final_layer_norm.is_empty()) x = final_layer_norm->forward(x);
  return x;
}

OptForCausalLMImpl::OptForCausalLMImpl(const OptConfig& c) : cfg(c) {
  auto model = register_module("model", std::make_shared<torch::nn::Module>());
  decoder = model->register_module("decoder", OptDecoder(c));
  // Tied: the head is embed_tokens' weight itself (not registered; tied checkpoints may lack lm_head).
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", nn::Linear(c.hidden_size, c.vocab_size, /*bias=*/false));
}

at::Tensor OptForCausalLMImpl::forward(const nn::DecoderInputs& in, nn::KVCache* cache, nn::LogitsFor which) {
  at::Tensor h = decoder->forward(in, cache);
  if (which == nn::LogitsFor::kLast) h = h.select(1, h.size(1) - 1);
  at::Tensor logits = cfg.tie_word_embeddings ? at::linear(h, decoder->embed_tokens->weight) : lm_head->forward(h);
  return logits.to(at::kFloat);
}

nn::KVCache OptForCausalLMImpl::make_cache(int64_t batch, int64_t capacity) const {
  const at::Tensor& w = decoder->embed_tokens->weight;
  nn::KVCacheShape s;
  s.num_layers = cfg.num_hidden_layers;
  s.batch = batch;
  s.kv_heads = cfg.num_attention_heads;
  s.head_dim = cfg.head_dim();
  s.capacity = capacity;
  return nn::KVCache(s, w.scalar_type(), w.device());
}

at::Tensor positions_from_mask(const at::Tensor& attention_mask) {
  const at::Tensor m = attention_mask.to(at::kLong);
  return at::cumsum(m, 1) * m - 1;
}

at::Tensor OptBackend::forward_last(const nn::DecoderInputs& in, nn::KVCache& cache) {
  return lm_->forward(in, &cache, nn::LogitsFor::kLast);
}

c10::Device OptBackend::device() const { return lm_->decoder->embed_tokens->weight.device(); }

at::ScalarType OptBackend::dtype() const { return lm_->decoder->embed_tokens->weight.scalar_type(); }

}  // namespace mvb::opt
