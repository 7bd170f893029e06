// The CLIP / SigLIP text tower: token + learned position embeddings, pre-LN encoder, final LN, then
// one pooled token: CLIP takes the end-of-text token (causal attention), SigLIP the last position
// (bidirectional attention), and SigLIP's Linear head. Module names are transformers'
// CLIPTextTransformer / SiglipTextTransformer names (embeddings.*, encoder, final_layer_norm, head).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "medvlmbench/nn/linear.h"
#include "medvlmbench/nn/transformer.h"

namespace mvb::nn {

struct TextTransformerOptions {
  int64_t vocab_size = 49408;
  int64_t max_positions = 77;
  TransformerLayerOptions layer;
  int64_t num_layers = 12;
  bool causal = true;
  enum class Pool { kEos, kLast } pool = Pool::kEos;
  // kEos pools at the first eos_token_id, or at each row's largest id when it is 2 (legacy configs).
  int64_t eos_token_id = 49407;
  // Width of the Linear "head" (with bias) applied to the pooled token (SigLIP's projection_size); 0: none.
  int64_t head_dim = 0;
};

// CLIPTextEmbeddings / SiglipTextEmbeddings: token table plus learned positions.
class TextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit TextEmbeddingsImpl(const TextTransformerOptions& o);
  at::Tensor forward(const at::Tensor& input_ids);  // [B, L] int64 on the tables' device -> [B, L, D]
  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(TextEmbeddings);

class TextTransformerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerImpl(const TextTransformerOptions& o);
  // input_ids [B, L] int64; attention_mask [B, L] 1/0 or undefined (no padding mask).
  // Returns the pooled token after the final LN (and the head when configured), [B, D].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {});

  TextTransformerOptions opts;
  TextEmbeddings embeddings{nullptr};
  TransformerEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
  Linear head{nullptr};

 private:
  at::Tensor eos_pool(const at::Tensor& x, const at::Tensor& ids) const;  // CLIP's end-of-text token
};
TORCH_MODULE(TextTransformer);

}  // namespace mvb::nn
