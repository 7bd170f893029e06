// The BLIP-2 Querying Transformer (Q-Former) as transformers' Blip2QFormerModel computes it, under its
// module names (relative to "qformer."), plus the text embeddings Blip2ForImageTextRetrieval puts in
// front of it ("embeddings."):
//
//   layernorm                               LayerNorm over the input embeddings (queries or text)
//   encoder.layer.N.attention               BERT self-attention: attention.{query,key,value},
//                                           output.{dense,LayerNorm} (post-LN residual)
//   encoder.layer.N.crossattention          every cross_attention_frequency-th layer (N % f == 0): the
//                                           query tokens attend to the image (key / value from
//                                           encoder_hidden_size)
//   encoder.layer.N.intermediate_query / output_query   the FFN of the query tokens
//   encoder.layer.N.intermediate / output   the FFN of text tokens (use_qformer_text_input only)
//
// Inputs: [B, Q + T, hidden] with the Q query tokens first (query_length = Q; 0 for text alone, as the
// ITC text branch runs it). Attention among all tokens is bidirectional; `attention_mask` [B, Q + T]
// (1 = token) hides padding keys. Only the query tokens see the image. Shared by BLIP-2 and XrayGPT
// (MiniGPT-4 loads the same module from LAVIS names).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::blip2 {

// Blip2QFormerConfig (transformers' defaults for absent keys: BERT-base, 12 layers, cross-attention
// every 2nd layer, encoder_hidden_size 1408 = EVA ViT-g's width).
struct QFormerConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  int64_t max_position_embeddings = 512;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  int64_t cross_attention_frequency = 2;
  int64_t encoder_hidden_size = 1408;
  bool use_qformer_text_input = false;  // the text FFN (intermediate / output) exists

  // `j` is the "qformer_config" object; `where` names the file in errors. Options we do not implement
  // (position_embedding_type other than "absolute", chunked feed-forward) are refused by name.
  static QFormerConfig from_json(const nlohmann::json& j, const std::string& where);
};

class QFormerAttentionImpl : public torch::nn::Module {
 public:
  QFormerAttentionImpl(const QFormerConfig& c, bool cross);
  // x [B, L, H]; kv_states: x itself (self-attention) or the image [B, S, E]; mask additive [B, 1, 1, S] or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& kv_states, const at::Tensor& mask);
  int64_t heads;
  nn::Linear query{nullptr}, key{nullptr}, value{nullptr};  // attention.*
  nn::Linear dense{nullptr};                                // output.dense
  torch::nn::LayerNorm layer_norm{nullptr};                 // output.LayerNorm
};
TORCH_MODULE(QFormerAttention);

// Blip2QFormerIntermediate + Blip2QFormerOutput: LayerNorm(output.dense(act(intermediate.dense(x))) + x).
// Its modules are registered on the layer as "<intermediate_name>.dense", "<output_name>.dense" and
// "<output_name>.LayerNorm".
struct QFormerFeedForward {
  QFormerFeedForward() = default;
  QFormerFeedForward(const QFormerConfig& c, torch::nn::Module& layer, const std::string& intermediate_name,
                     const std::string& output_name);
  at::Tensor forward(const at::Tensor& x);
  bool defined() const { return !intermediate.is_empty(); }
  nn::Activation act = nn::Activation::kGelu;
  nn::Linear intermediate{nullptr}, output{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
};

class QFormerLayerImpl : public torch::nn::Module {
 public:
  QFormerLayerImpl(const QFormerConfig& c, int64_t index);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& self_mask, const at::Tensor& image,
                     const at::Tensor& image_mask, int64_t query_length);
  bool has_cross_attention = false;
  QFormerAttention attention{nullptr}, crossattention{nullptr};
  QFormerFeedForward ffn_query, ffn_text;  // ffn_text: undefined without text input
};
TORCH_MODULE(QFormerLayer);

class QFormerModelImpl : public torch::nn::Module {
 public:
  explicit QFormerModelImpl(const QFormerConfig& c);
  // embeds [B, L, H] (queries first); attention_mask [B, L] 1/0 or undefined (all tokens);
  // image [B, S, E] (needed when query_length > 0 and a layer cross-attends) -> last_hidden_state [B, L, H].
  // Computes in the module's dtype (transformers keeps the Q-Former in fp32: see _keep_in_fp32_modules).
  at::Tensor forward(const at::Tensor& embeds, const at::Tensor& attention_mask, const at::Tensor& image,
                     int64_t query_length);
  QFormerConfig cfg;
  torch::nn::LayerNorm layernorm{nullptr};
  torch::nn::ModuleList layer{nullptr};  // registered under "encoder"
  std::vector<QFormerLayer> typed_layers;
};
TORCH_MODULE(QFormerModel);

// Blip2TextEmbeddings: word_embeddings(ids) + position_embeddings(0..L-1) (no LayerNorm here: the
// Q-Former's layernorm applies it).
class QFormerTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit QFormerTextEmbeddingsImpl(const QFormerConfig& c);
  at::Tensor forward(const at::Tensor& input_ids);  // [B, T] -> [B, T, H]
  nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr};
};
TORCH_MODULE(QFormerTextEmbeddings);

}  // namespace mvb::blip2
