// BLIP's BERT text transformer as transformers' BlipTextModel / BlipTextLMHeadModel compute it
// (models/blip/modeling_blip_text.py), under their module names:
//
//   embeddings.word_embeddings, embeddings.position_embeddings (absolute), embeddings.LayerNorm
//     (no token-type embeddings)
//   encoder.layer.N.attention.self.{query,key,value}, attention.output.{dense,LayerNorm}   post-LN
//   encoder.layer.N.crossattention.*   the same, keys/values from encoder_hidden_size (only when the
//                                      config's is_decoder: BLIP builds it for encoder and decoder alike)
//   encoder.layer.N.intermediate.dense -> act -> output.dense, output.LayerNorm
//   pooler.dense (+ tanh on the first token; BlipModel's text_model only)
//   LM head (BlipTextLMHeadModel = "bert." + this, "cls.predictions."): transform.dense -> act ->
//     transform.LayerNorm -> decoder (weight tied to the word embeddings unless the checkpoint has its
//     own; bias = cls.predictions.bias)
//
// The same module runs as the question encoder (bidirectional self-attention with the padding mask,
// cross-attention to the image tokens), as the unimodal ITC text encoder (no cross-attention) and as
// the answer decoder (causal self-attention over a KV cache, cross-attention to the question encoding).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/kv_cache.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::blip {

// transformers' BlipTextConfig (defaults = its class defaults, i.e. blip-*-base).
struct TextConfig {
  int64_t vocab_size = 30524;
  int64_t hidden_size = 768;
  int64_t encoder_hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 512;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-12;
  int64_t bos_token_id = 30522;  // [DEC]: the answer decoder's start token
  int64_t pad_token_id = 0;
  int64_t sep_token_id = 102;  // [SEP]: where BlipForQuestionAnswering.generate stops
  bool is_decoder = true;      // builds the cross-attention blocks
  bool tie_word_embeddings = true;

  // From the "text_config" object of a BlipConfig; `where` names the file for errors.
  static TextConfig from_json(const nlohmann::json& j, const std::string& where);
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// BlipTextAttention: "self" (query/key/value) + "output" (dense, LayerNorm over output + input).
class TextAttentionImpl : public torch::nn::Module {
 public:
  TextAttentionImpl(const TextConfig& c, bool cross);
  // Keys and values of `source` ([B, S, kv_dim]) split into heads: [B, heads, S, head_dim].
  std::pair<at::Tensor, at::Tensor> key_values(const at::Tensor& source);
  // Attention of x's queries over k/v; `mask` additive (broadcastable to [B, heads, L, S]) or undefined;
  // `causal` hides later keys. Returns LayerNorm(dense(context) + x).
  at::Tensor attend(const at::Tensor& x, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, bool causal);
  int64_t heads;
  nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, dense{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(TextAttention);

// The cross-attention keys/values of every layer for one batch of encoder states, with their mask.
struct CrossStates {
  std::vector<at::Tensor> keys, values;  // per layer [B, heads, S, head_dim]
  at::Tensor mask;                       // additive [B, 1, 1, S], or undefined (attend to all)
  bool defined() const { return !keys.empty(); }
  // Keeps the given batch rows, in that order (finished sequences leave a generation batch).
  void select_rows(const std::vector<int64_t>& rows);
};

class TextLayerImpl : public torch::nn::Module {
 public:
  explicit TextLayerImpl(const TextConfig& c);
  // x [B, L, D]. Self-attention over x (and the cache's past when `cache`), then cross-attention to
  // cross_k/cross_v when defined, then the feed-forward block.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& self_mask, bool causal, const at::Tensor& cross_k,
                     const at::Tensor& cross_v, const at::Tensor& cross_mask, nn::KVCache* cache, int64_t index);
  nn::Activation act;
  TextAttention attention{nullptr}, crossattention{nullptr};
  nn::Linear intermediate{nullptr}, output{nullptr};
  torch::nn::LayerNorm output_norm{nullptr};
};
TORCH_MODULE(TextLayer);

class TextModelImpl : public torch::nn::Module {
 public:
  TextModelImpl(const TextConfig& c, bool pooler);
  // Word embeddings only ([B, L] -> [B, L, D]); forward() adds positions and the LayerNorm.
  at::Tensor embed_tokens(const at::Tensor& ids);
  // Encoder states -> cross-attention keys/values of every layer. `encoder_mask` [B, S] 1/0 or undefined.
  CrossStates cross_states(const at::Tensor& encoder_hidden_states, const at::Tensor& encoder_mask);
  // last_hidden_state [B, L, D] of word embeddings `embeds` at `position_ids` ([B, L] or [L]).
  // attention_mask [B, P + L] 1/0 or undefined; causal = decoder mode; `cache` holds the past
  // (self-attention keys/values appended, committed by the caller).
  at::Tensor forward(const at::Tensor& embeds, const at::Tensor& position_ids, const at::Tensor& attention_mask,
                     bool causal, const CrossStates& cross, nn::KVCache* cache = nullptr);
  // BlipTextModel.forward(input_ids, attention_mask, encoder_hidden_states, encoder_attention_mask) in
  // encoder mode (bidirectional): positions 0..L-1. Encoder states optional.
  at::Tensor encode(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const at::Tensor& encoder_hidden_states = {}, const at::Tensor& encoder_mask = {});
  // BlipTextPooler: tanh(dense(last_hidden_state[:, 0])).
  at::Tensor pool(const at::Tensor& last_hidden_state);

  TextConfig cfg;
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr};
  torch::nn::LayerNorm embeddings_norm{nullptr};
  torch::nn::ModuleList layer{nullptr};
  std::vector<TextLayer> typed_layers;
  nn::Linear pooler{nullptr};
};
TORCH_MODULE(TextModel);

// BlipTextLMHeadModel: "bert" + "cls.predictions".
class TextLMHeadModelImpl : public torch::nn::Module {
 public:
  explicit TextLMHeadModelImpl(const TextConfig& c);
  at::Tensor logits(const at::Tensor& hidden);  // [.., D] -> [.., vocab] (float of the module's dtype)
  TextModel bert{nullptr};
  nn::Linear transform{nullptr};
  torch::nn::LayerNorm transform_norm{nullptr};
  at::Tensor decoder_weight, bias;  // cls.predictions.decoder.weight, cls.predictions.bias
  nn::Activation act;
};
TORCH_MODULE(TextLMHeadModel);

}  // namespace mvb::blip
