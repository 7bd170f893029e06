#include "medvlmbench/nn/bert.h"

#include <ATen/ATen.h>

#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::nn {

BertOptions BertOptions::from_config(const nlohmann::json& c) {
  // Typed reads: a fractional size (768.5) is an error naming the key, never truncated (issue 18).
  BertOptions o;
  o.vocab_size = hf::get_int(c, "vocab_size", o.vocab_size, "BERT config");
  o.max_positions = hf::get_int(c, "max_position_embeddings", o.max_positions, "BERT config");
  o.type_vocab_size = hf::get_int(c, "type_vocab_size", o.type_vocab_size, "BERT config");
  o.num_layers = hf::get_int(c, "num_hidden_layers", o.num_layers, "BERT config");
  o.pad_token_id = hf::get_int(c, "pad_token_id", o.pad_token_id, "BERT config");
  o.layer.dim = hf::get_int(c, "hidden_size", int64_t{768}, "BERT config");
  o.layer.heads = hf::get_int(c, "num_attention_heads", int64_t{12}, "BERT config");
  o.layer.mlp_dim = hf::get_int(c, "intermediate_size", int64_t{3072}, "BERT config");
  o.layer.act = parse_activation(c.value("hidden_act", std::string("gelu")));
  o.layer.eps = c.value("layer_norm_eps", 1e-12);
  o.layer.pre_norm = false;
  const std::string pos = c.value("position_embedding_type", std::string("absolute"));
  MVB_CHECK(pos == "absolute", "BERT position_embedding_type '", pos, "' is not supported (only absolute)");
  return o;
}

BertEncoderImpl::BertEncoderImpl(const BertOptions& o) : opts(o) {
  const int64_t d = o.layer.dim;
  word_embeddings = register_module("word_embeddings", torch::nn::Embedding(o.vocab_size, d));
  position_embeddings = register_module("position_embeddings", torch::nn::Embedding(o.max_positions, d));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(o.type_vocab_size, d));
  embeddings_norm =
      register_module("embeddings_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(o.layer.eps)));
  encoder = register_module("encoder", TransformerEncoder(o.layer, o.num_layers));
}

// The embeddings output (word + token type + position, LayerNorm) and the additive padding mask.
std::pair<at::Tensor, at::Tensor> BertEncoderImpl::embed(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                                         const at::Tensor& token_type_ids) {
  const int64_t len = input_ids.size(1);
  MVB_CHECK(len <= opts.max_positions, "text of ", len, " tokens exceeds BERT's ", opts.max_positions, " positions");
  const auto dev = word_embeddings->weight.device();
  at::Tensor ids = input_ids.to(dev, at::kLong);
  at::Tensor types = token_type_ids.defined() ? token_type_ids.to(dev, at::kLong) : at::zeros_like(ids);
  at::Tensor x = word_embeddings->forward(ids) + token_type_embeddings->forward(types) +
                 position_embeddings->weight.slice(0, 0, len).unsqueeze(0);
  x = embeddings_norm->forward(x);
  at::Tensor mask;
  if (attention_mask.defined()) mask = additive_padding_mask(attention_mask.to(dev), x.scalar_type());
  return {x, mask};
}

at::Tensor BertEncoderImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& token_type_ids) {
  auto [x, mask] = embed(input_ids, attention_mask, token_type_ids);
  return encoder->forward(x, mask, /*causal=*/false);
}

std::vector<at::Tensor> BertEncoderImpl::hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                                       const at::Tensor& token_type_ids) {
  auto [x, mask] = embed(input_ids, attention_mask, token_type_ids);
  std::vector<at::Tensor> out{x};
  for (auto& layer : encoder->typed_layers) out.push_back(layer->forward(out.back(), mask, /*causal=*/false));
  return out;
}

std::optional<std::string> bert_checkpoint_name(const std::string& n) {
  static const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^embeddings\.(word_embeddings|position_embeddings|token_type_embeddings)\.weight$)"), "$1.weight"},
      {std::regex(R"(^embeddings\.LayerNorm\.(weight|bias|gamma|beta)$)"), "embeddings_norm.$1"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)$)"),
       "encoder.layers.$1.self_attn.q_proj.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.self\.key\.(weight|bias)$)"),
       "encoder.layers.$1.self_attn.k_proj.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.self\.value\.(weight|bias)$)"),
       "encoder.layers.$1.self_attn.v_proj.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$)"),
       "encoder.layers.$1.self_attn.out_proj.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias|gamma|beta)$)"),
       "encoder.layers.$1.layer_norm1.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)$)"), "encoder.layers.$1.mlp.fc1.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)$)"), "encoder.layers.$1.mlp.fc2.$2"},
      {std::regex(R"(^encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias|gamma|beta)$)"),
       "encoder.layers.$1.layer_norm2.$2"},
  };
  for (const auto& [re, to] : rules) {
    if (std::regex_match(n, re)) {
      std::string out = std::regex_replace(n, re, to);
      // Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
      if (out.size() > 6 && out.compare(out.size() - 6, 6, ".gamma") == 0)
        out = out.substr(0, out.size() - 6) + ".weight";
      if (out.size() > 5 && out.compare(out.size() - 5, 5, ".beta") == 0) out = out.substr(0, out.size() - 5) + ".bias";
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace mvb::nn
