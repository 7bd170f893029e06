// transformers 5.23 models/blip/modeling_blip_text.py (identical maths in 4.53.1): BlipTextEmbeddings,
// BlipTextSelfAttention (eager: softmax(q k^T / sqrt(d) + mask) v), BlipTextLayer, BlipTextPooler,
// BlipTextLMPredictionHead.
#include "medvlmbench/models/blip/text.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/transformer.h"

namespace mvb::blip {
namespace {

namespace hf = nn::hf;

std::shared_ptr<torch::nn::Module> holder(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

torch::nn::LayerNorm make_norm(torch::nn::Module& parent, const std::string& name, const TextConfig& c) {
  return parent.register_module(
      name, torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

}  // namespace

TextConfig TextConfig::from_json(const nlohmann::json& j, const std::string& where) {
  TextConfig c;
  c.vocab_size = hf::get_int(j, "vocab_size", c.vocab_size, where);
  c.hidden_size = hf::get_int(j, "hidden_size", c.hidden_size, where);
  c.encoder_hidden_size = hf::get_int(j, "encoder_hidden_size", c.encoder_hidden_size, where);
  c.intermediate_size = hf::get_int(j, "intermediate_size", c.intermediate_size, where);
  c.num_hidden_layers = hf::get_int(j, "num_hidden_layers", c.num_hidden_layers, where);
  c.num_attention_heads = hf::get_int(j, "num_attention_heads", c.num_attention_heads, where);
  c.max_position_embeddings = hf::get_int(j, "max_position_embeddings", c.max_position_embeddings, where);
  c.hidden_act = hf::get_string(j, "hidden_act", c.hidden_act, where);
  nn::parse_activation(c.hidden_act);
  c.layer_norm_eps = hf::get_double(j, "layer_norm_eps", c.layer_norm_eps, where);
  c.bos_token_id = hf::get_int(j, "bos_token_id", c.bos_token_id, where);
  c.pad_token_id = hf::get_int(j, "pad_token_id", c.pad_token_id, where);
  c.sep_token_id = hf::get_int(j, "sep_token_id", c.sep_token_id, where);
  c.is_decoder = hf::get_bool(j, "is_decoder", c.is_decoder, where);
  c.tie_word_embeddings = hf::get_bool(j, "tie_word_embeddings", c.tie_word_embeddings, where);
  MVB_CHECK(c.hidden_size > 0 && c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0, where,
            ": text_config.hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
            c.num_attention_heads);
  // Options of BERT-style configs that BLIP's text model does not read; refused rather than ignored
  // when a checkpoint sets them to something other than what BLIP does.
  const std::string pet = hf::get_string(j, "position_embedding_type", "absolute", where);
  MVB_CHECK(pet == "absolute", where, ": text_config.position_embedding_type \"", pet,
            "\" is not implemented (BLIP uses absolute position embeddings)");
  return c;
}

void CrossStates::select_rows(const std::vector<int64_t>& rows) {
  if (!defined()) return;
  at::Tensor index = at::tensor(rows, at::kLong).to(keys.front().device());
  for (auto& k : keys) k = k.index_select(0, index);
  for (auto& v : values) v = v.index_select(0, index);
  if (mask.defined()) mask = mask.index_select(0, index.to(mask.device()));
}

TextAttentionImpl::TextAttentionImpl(const TextConfig& c, bool cross) : heads(c.num_attention_heads) {
  auto self = holder(*this, "self");
  const int64_t kv_in = cross ? c.encoder_hidden_size : c.hidden_size;
  query = self->register_module("query", nn::Linear(c.hidden_size, c.hidden_size, /*bias=*/true));
  key = self->register_module("key", nn::Linear(kv_in, c.hidden_size, /*bias=*/true));
  value = self->register_module("value", nn::Linear(kv_in, c.hidden_size, /*bias=*/true));
  auto out = holder(*this, "output");
  dense = out->register_module("dense", nn::Linear(c.hidden_size, c.hidden_size, /*bias=*/true));
  layer_norm = make_norm(*out, "LayerNorm", c);
}

std::pair<at::Tensor, at::Tensor> TextAttentionImpl::key_values(const at::Tensor& source) {
  return {split_heads(key->forward(source), heads), split_heads(value->forward(source), heads)};
}

at::Tensor TextAttentionImpl::attend(const at::Tensor& x, const at::Tensor& k, const at::Tensor& v,
                                     const at::Tensor& mask, bool causal) {
  at::Tensor q = split_heads(query->forward(x), heads);
  at::Tensor ctx = compat::scaled_dot_product_attention(q, k, v, mask, causal);
  ctx = ctx.transpose(1, 2).reshape({x.size(0), x.size(1), -1});
  return layer_norm->forward(dense->forward(ctx) + x);
}

TextLayerImpl::TextLayerImpl(const TextConfig& c) : act(nn::parse_activation(c.hidden_act)) {
  attention = register_module("attention", TextAttention(c, /*cross=*/false));
  if (c.is_decoder) crossattention = register_module("crossattention", TextAttention(c, /*cross=*/true));
  auto inter = holder(*this, "intermediate");
  intermediate = inter->register_module("dense", nn::Linear(c.hidden_size, c.intermediate_size, /*bias=*/true));
  auto out = holder(*this, "output");
  output = out->register_module("dense", nn::Linear(c.intermediate_size, c.hidden_size, /*bias=*/true));
  output_norm = make_norm(*out, "LayerNorm", c);
}

at::Tensor TextLayerImpl::forward(const at::Tensor& x, const at::Tensor& self_mask, bool causal,
                                  const at::Tensor& cross_k, const at::Tensor& cross_v, const at::Tensor& cross_mask,
                                  nn::KVCache* cache, int64_t index) {
  auto [k, v] = attention->key_values(x);
  if (cache != nullptr) std::tie(k, v) = cache->append(index, k, v);
  at::Tensor h = attention->attend(x, k, v, self_mask, causal);
  if (cross_k.defined()) {
    MVB_CHECK(!crossattention.is_empty(),
              "BLIP text model: cross-attention asked of a model built without it "
              "(text_config.is_decoder is false)");
    h = crossattention->attend(h, cross_k, cross_v, cross_mask, /*causal=*/false);
  }
  return output_norm->forward(output->forward(nn::activate(intermediate->forward(h), act)) + h);
}

TextModelImpl::TextModelImpl(const TextConfig& c, bool with_pooler) : cfg(c) {
  auto emb = holder(*this, "embeddings");
  word_embeddings = emb->register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings =
      emb->register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  embeddings_norm = make_norm(*emb, "LayerNorm", c);
  auto enc = holder(*this, "encoder");
  layer = enc->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    typed_layers.push_back(TextLayer(c));
    layer->push_back(typed_layers.back());
  }
  if (with_pooler) pooler = holder(*this, "pooler")->register_module("dense", nn::Linear(c.hidden_size, c.hidden_size));
}

at::Tensor TextModelImpl::embed_tokens(const at::Tensor& ids) { return word_embeddings->forward(ids); }

CrossStates TextModelImpl::cross_states(const at::Tensor& states, const at::Tensor& encoder_mask) {
  CrossStates cs;
  for (auto& l : typed_layers) {
    MVB_CHECK(!l->crossattention.is_empty(),
              "BLIP text model: text_config.is_decoder is false, so it has no "
              "cross-attention to the image or question");
    auto [k, v] = l->crossattention->key_values(states.to(word_embeddings->weight.scalar_type()));
    cs.keys.push_back(k);
    cs.values.push_back(v);
  }
  if (encoder_mask.defined() && !encoder_mask.all().item<bool>())
    cs.mask = nn::additive_padding_mask(encoder_mask, word_embeddings->weight.scalar_type());
  return cs;
}

at::Tensor TextModelImpl::forward(const at::Tensor& embeds, const at::Tensor& position_ids,
                                  const at::Tensor& attention_mask, bool causal, const CrossStates& cross,
                                  nn::KVCache* cache) {
  MVB_CHECK(position_ids.max().item<int64_t>() < cfg.max_position_embeddings, "BLIP text model: position ",
            position_ids.max().item<int64_t>(), " is beyond max_position_embeddings ", cfg.max_position_embeddings);
  at::Tensor x = embeddings_norm->forward(embeds + position_embeddings->forward(position_ids));
  at::Tensor mask;
  if (attention_mask.defined() && !attention_mask.all().item<bool>())
    mask = nn::additive_padding_mask(attention_mask, x.scalar_type());
  for (size_t i = 0; i < typed_layers.size(); ++i) {
    const at::Tensor ck = cross.defined() ? cross.keys[i] : at::Tensor();
    const at::Tensor cv = cross.defined() ? cross.values[i] : at::Tensor();
    x = typed_layers[i]->forward(x, mask, causal, ck, cv, cross.mask, cache, static_cast<int64_t>(i));
  }
  return x;
}

at::Tensor TextModelImpl::encode(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                 const at::Tensor& encoder_hidden_states, const at::Tensor& encoder_mask) {
  const int64_t L = input_ids.size(1);
  MVB_CHECK(L <= cfg.max_position_embeddings, "BLIP text model: ", L, " tokens exceed max_position_embeddings ",
            cfg.max_position_embeddings);
  at::Tensor pos = at::arange(L, input_ids.options().dtype(at::kLong)).unsqueeze(0);
  CrossStates cross;
  if (encoder_hidden_states.defined()) cross = cross_states(encoder_hidden_states, encoder_mask);
  return forward(embed_tokens(input_ids), pos, attention_mask, /*causal=*/false, cross);
}

at::Tensor TextModelImpl::pool(const at::Tensor& last_hidden_state) {
  MVB_CHECK(!pooler.is_empty(), "BLIP text model built without its pooler");
  return at::tanh(pooler->forward(last_hidden_state.select(1, 0)));
}

TextLMHeadModelImpl::TextLMHeadModelImpl(const TextConfig& c) : act(nn::parse_activation(c.hidden_act)) {
  bert = register_module("bert", TextModel(c, /*with_pooler=*/false));
  auto pred = holder(*holder(*this, "cls"), "predictions");
  auto tr = holder(*pred, "transform");
  transform = tr->register_module("dense", nn::Linear(c.hidden_size, c.hidden_size, /*bias=*/true));
  transform_norm = make_norm(*tr, "LayerNorm", c);
  decoder_weight = holder(*pred, "decoder")->register_parameter("weight", at::zeros({c.vocab_size, c.hidden_size}));
  bias = pred->register_parameter("bias", at::zeros({c.vocab_size}));
}

at::Tensor TextLMHeadModelImpl::logits(const at::Tensor& hidden) {
  at::Tensor h = transform_norm->forward(nn::activate(transform->forward(hidden), act));
  return at::linear(h, decoder_weight, bias);
}

}  // namespace mvb::blip
