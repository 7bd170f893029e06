// BERT encoder (post-LN, token-type embeddings, GELU): the text tower of BioMedCLIP (PubMedBERT),
// MedCLIP (Bio_ClinicalBERT) and PMC-CLIP, and the BERTScore model. Sizes come from config.json;
// HF checkpoint names (embeddings.*, encoder.layer.N.attention.self.query ...) are mapped onto these
// modules by bert_checkpoint_name().
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/nn/transformer.h"

namespace mvb::nn {

struct BertOptions {
  int64_t vocab_size = 30522;
  int64_t max_positions = 512;
  int64_t type_vocab_size = 2;
  TransformerLayerOptions layer;  // pre_norm = false, eps = 1e-12
  int64_t num_layers = 12;
  int64_t pad_token_id = 0;
  // From a BERT config.json (hidden_size, num_hidden_layers, ...). Missing keys keep BERT-base values.
  static BertOptions from_config(const nlohmann::json& cfg);
};

class BertEncoderImpl : public torch::nn::Module {
 public:
  explicit BertEncoderImpl(const BertOptions& o);
  // Returns last_hidden_state [B, L, D]. attention_mask [B, L] 1/0 (undefined = all ones).
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                     const at::Tensor& token_type_ids = {});
  // transformers' output_hidden_states=True: the embeddings output, then each layer's output
  // (num_layers + 1 tensors [B, L, D]). MedCLIP pools layers 1, 2 and the last; BERTScore picks one.
  std::vector<at::Tensor> hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                                        const at::Tensor& token_type_ids = {});

  BertOptions opts;
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm embeddings_norm{nullptr};
  TransformerEncoder encoder{nullptr};

 private:
  std::pair<at::Tensor, at::Tensor> embed(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                          const at::Tensor& token_type_ids);
};
TORCH_MODULE(BertEncoder);

// Maps a Hugging Face BertModel parameter name (without any outer prefix) to this module's name;
// nullopt for tensors the encoder does not use (pooler, position_ids buffers).
std::optional<std::string> bert_checkpoint_name(const std::string& hf_name);

}  // namespace mvb::nn
