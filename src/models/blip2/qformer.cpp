// Blip2QFormerModel and Blip2TextEmbeddings (transformers 5.23 modeling_blip_2.py); see the header.
#include "medvlmbench/models/blip2/qformer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::blip2 {
namespace {

torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// A plain container module, so that nested names ("attention.attention.query") match transformers'.
std::shared_ptr<torch::nn::Module> holder(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

// [B, L] 1/0 -> additive [B, 1, 1, L] in `dtype` (transformers' bidirectional mask: padding keys get
// the dtype's lowest value).
at::Tensor padding_mask(const at::Tensor& mask, at::ScalarType dtype, c10::Device device) {
  if (!mask.defined()) return {};
  at::Tensor keep = mask.to(device).to(at::kBool).view({mask.size(0), 1, 1, mask.size(1)});
  const double low = dtype == at::kBFloat16 ? -3.3895313892515355e38
                     : dtype == at::kHalf   ? -65504.0
                                            : static_cast<double>(std::numeric_limits<float>::lowest());
  return at::zeros(keep.sizes(), at::TensorOptions().dtype(dtype).device(device)).masked_fill_(keep.logical_not(), low);
}

}  // namespace

QFormerConfig QFormerConfig::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, ": qformer_config must be a JSON object");
  QFormerConfig c;
  c.vocab_size = nn::hf::get_int(j, "vocab_size", c.vocab_size, where);
  c.hidden_size = nn::hf::get_int(j, "hidden_size", c.hidden_size, where);
  c.num_hidden_layers = nn::hf::get_int(j, "num_hidden_layers", c.num_hidden_layers, where);
  c.num_attention_heads = nn::hf::get_int(j, "num_attention_heads", c.num_attention_heads, where);
  c.intermediate_size = nn::hf::get_int(j, "intermediate_size", c.intermediate_size, where);
  c.hidden_act = nn::hf::get_string(j, "hidden_act", c.hidden_act, where);
  c.max_position_embeddings = nn::hf::get_int(j, "max_position_embeddings", c.max_position_embeddings, where);
  c.layer_norm_eps = nn::hf::get_double(j, "layer_norm_eps", c.layer_norm_eps, where);
  if (nn::hf::has(j, "pad_token_id")) c.pad_token_id = nn::hf::get_int(j, "pad_token_id", 0, where);
  c.cross_attention_frequency = nn::hf::get_int(j, "cross_attention_frequency", c.cross_attention_frequency, where);
  c.encoder_hidden_size = nn::hf::get_int(j, "encoder_hidden_size", c.encoder_hidden_size, where);
  c.use_qformer_text_input = nn::hf::get_bool(j, "use_qformer_text_input", false, where);
  const std::string pos = nn::hf::get_string(j, "position_embedding_type", "absolute", where);
  MVB_CHECK(pos == "absolute", where, ": qformer_config.position_embedding_type \"", pos,
            "\" is not supported (only \"absolute\")");
  MVB_CHECK(
      nn::hf::get_int(j, "chunk_size_feed_forward", 0, where) == 0, where,
      ": qformer_config.chunk_size_feed_forward is not supported (chunking does not change results; set it to 0)");
  MVB_CHECK(c.hidden_size > 0 && c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0, where,
            ": qformer_config.hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
            c.num_attention_heads);
  MVB_CHECK(c.cross_attention_frequency > 0, where, ": qformer_config.cross_attention_frequency must be positive");
  (void)nn::parse_activation(c.hidden_act);  // refuses an unknown activation by name
  return c;
}

QFormerAttentionImpl::QFormerAttentionImpl(const QFormerConfig& c, bool cross) : heads(c.num_attention_heads) {
  auto attn = holder(*this, "attention");
  const int64_t kv_in = cross ? c.encoder_hidden_size : c.hidden_size;
  query = attn->register_module("query", nn::Linear(c.hidden_size, c.hidden_size));
  key = attn->register_module("key", nn::Linear(kv_in, c.hidden_size));
  value = attn->register_module("value", nn::Linear(kv_in, c.hidden_size));
  auto out = holder(*this, "output");
  dense = out->register_module("dense", nn::Linear(c.hidden_size, c.hidden_size));
  layer_norm = out->register_module("LayerNorm", blip2::layer_norm(c.hidden_size, c.layer_norm_eps));
}

at::Tensor QFormerAttentionImpl::forward(const at::Tensor& x, const at::Tensor& kv_states, const at::Tensor& mask) {
  const int64_t b = x.size(0), l = x.size(1), s = kv_states.size(1), h = x.size(2), d = h / heads;
  at::Tensor q = query->forward(x).view({b, l, heads, d}).transpose(1, 2);
  at::Tensor k = key->forward(kv_states).view({b, s, heads, d}).transpose(1, 2);
  at::Tensor v = value->forward(kv_states).view({b, s, heads, d}).transpose(1, 2);
  // eager_attention_forward: (q k^T) * scale + mask, softmax in the compute dtype (BLIP does not upcast).
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(d)));
  if (mask.defined()) scores = scores + mask;
  at::Tensor o = at::matmul(scores.softmax(-1), v).transpose(1, 2).reshape({b, l, h});
  return layer_norm->forward(dense->forward(o) + x);
}

QFormerFeedForward::QFormerFeedForward(const QFormerConfig& c, torch::nn::Module& layer,
                                       const std::string& intermediate_name, const std::string& output_name)
    : act(nn::parse_activation(c.hidden_act)) {
  intermediate =
      holder(layer, intermediate_name)->register_module("dense", nn::Linear(c.hidden_size, c.intermediate_size));
  auto out = holder(layer, output_name);
  output = out->register_module("dense", nn::Linear(c.intermediate_size, c.hidden_size));
  layer_norm = out->register_module("LayerNorm", blip2::layer_norm(c.hidden_size, c.layer_norm_eps));
}

at::Tensor QFormerFeedForward::forward(const at::Tensor& x) {
  return layer_norm->forward(output->forward(nn::activate(intermediate->forward(x), act)) + x);
}

QFormerLayerImpl::QFormerLayerImpl(const QFormerConfig& c, int64_t index) {
  attention = register_module("attention", QFormerAttention(c, /*cross=*/false));
  has_cross_attention = index % c.cross_attention_frequency == 0;
  if (has_cross_attention) crossattention = register_module("crossattention", QFormerAttention(c, /*cross=*/true));
  if (c.use_qformer_text_input) ffn_text = QFormerFeedForward(c, *this, "intermediate", "output");
  ffn_query = QFormerFeedForward(c, *this, "intermediate_query", "output_query");
}

at::Tensor QFormerLayerImpl::forward(const at::Tensor& x, const at::Tensor& self_mask, const at::Tensor& image,
                                     const at::Tensor& image_mask, int64_t query_length) {
  at::Tensor a = attention->forward(x, x, self_mask);
  if (query_length <= 0) {
    MVB_CHECK(ffn_text.defined(), "this Q-Former has no text feed-forward (use_qformer_text_input is false)");
    return ffn_text.forward(a);
  }
  at::Tensor q = a.narrow(1, 0, query_length);
  if (has_cross_attention) {
    MVB_CHECK(image.defined(), "the Q-Former's cross-attention layers need the image features");
    q = crossattention->forward(q, image, image_mask);
  }
  at::Tensor out = ffn_query.forward(q);
  if (a.size(1) > query_length) {
    MVB_CHECK(ffn_text.defined(), "this Q-Former has no text feed-forward (use_qformer_text_input is false)");
    out = at::cat({out, ffn_text.forward(a.narrow(1, query_length, a.size(1) - query_length))}, 1);
  }
  return out;
}

QFormerModelImpl::QFormerModelImpl(const QFormerConfig& c) : cfg(c) {
  layernorm = register_module("layernorm", layer_norm(c.hidden_size, c.layer_norm_eps));
  auto encoder = holder(*this, "encoder");
  layer = encoder->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    typed_layers.push_back(QFormerLayer(c, i));
    layer->push_back(typed_layers.back());
  }
}

at::Tensor QFormerModelImpl::forward(const at::Tensor& embeds, const at::Tensor& attention_mask,
                                     const at::Tensor& image, int64_t query_length) {
  const at::Tensor& w = layernorm->weight;
  at::Tensor x = layernorm->forward(embeds.to(w.scalar_type()));
  const at::Tensor self_mask = padding_mask(attention_mask, x.scalar_type(), x.device());
  // transformers casts the image features to the Q-Former's dtype; the image mask is all ones.
  const at::Tensor img = image.defined() ? image.to(x.scalar_type()) : image;
  for (auto& l : typed_layers) x = l->forward(x, self_mask, img, {}, query_length);
  return x;
}

QFormerTextEmbeddingsImpl::QFormerTextEmbeddingsImpl(const QFormerConfig& c) {
  word_embeddings = register_module("word_embeddings", nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module("position_embeddings", nn::Embedding(c.max_position_embeddings, c.hidden_size));
}

at::Tensor QFormerTextEmbeddingsImpl::forward(const at::Tensor& input_ids) {
  const int64_t t = input_ids.size(1);
  MVB_CHECK(t <= position_embeddings->weight.size(0), "a Q-Former text of ", t, " tokens exceeds its ",
            position_embeddings->weight.size(0), " positions");
  const at::Tensor ids = input_ids.to(word_embeddings->weight.device());
  at::Tensor pos = at::arange(t, at::TensorOptions().dtype(at::kLong).device(ids.device())).unsqueeze(0);
  return word_embeddings->forward(ids) + position_embeddings->forward(pos);
}

}  // namespace mvb::blip2
