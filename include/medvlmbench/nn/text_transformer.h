// The CLIP / SigLIP text tower: token + learned position embeddings, pre-LN encoder, final LN, then
// one pooled token: CLIP takes the end-of-text token (causal attention), SigLIP the last position
// (bidirectional attention). Module names follow Hugging Face.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

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
};

class TextTransformerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerImpl(const TextTransformerOptions& o);
  // input_ids [B, L] int64; attention_mask [B, L] 1/0 or undefined (no padding mask).
  // Returns the pooled token after the final LN, [B, D].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {});

  TextTransformerOptions opts;
  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
  TransformerEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(TextTransformer);

}  // namespace mvb::nn
