// An embedding table that can carry a LoRA adapter the way PEFT's lora.Embedding does:
//   out = E[ids] + (A^T[ids] B^T) * alpha / r,   A: [r, num_embeddings] zeros, B: [dim, r] normal(0, 1)
// (PEFT initialises A with zeros and B from a standard normal, the reverse of its Linear adapter, and
// applies no dropout to embeddings). Parameter names are weight / lora_embedding_A / lora_embedding_B,
// as in PEFT's state dicts.
//
// `peft_target` says whether the published PyTorch model holds this table in an nn.Embedding (HF CLIP's
// and SigLIP's position_embedding) — the only case PEFT adapts — or in a bare nn.Parameter (timm ViT's
// pos_embed), which PEFT leaves alone; apply_lora() mirrors that.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/nn/linear.h"

namespace mvb::nn {

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t dim, bool peft_target = true);
  // Rows of the (adapted) table for int64 ids of any shape -> [..., dim].
  at::Tensor forward(const at::Tensor& ids);
  // The whole (adapted) table [num_embeddings, dim]: what a forward over arange(num_embeddings)
  // returns, as position embeddings use it.
  at::Tensor table();

  void enable_lora(const LoraConfig& cfg);
  bool has_lora() const { return lora_embedding_A.defined(); }
  // Folds the adapter into the table (PEFT's merge: W += (B A)^T * scaling) and back.
  void merge_lora();
  void unmerge_lora();
  bool lora_merged() const { return merged_; }

  int64_t num_embeddings, dim;
  bool peft_target;
  at::Tensor weight, lora_embedding_A, lora_embedding_B;
  LoraConfig lora;

 private:
  at::Tensor delta() const;  // (B A)^T * scaling, [num_embeddings, dim]
  bool merged_ = false;
};
TORCH_MODULE(Embedding);

// Every nn::Embedding inside `module` (recursively), with its dotted path.
std::vector<std::pair<std::string, Embedding>> find_embeddings(torch::nn::Module& module);

}  // namespace mvb::nn
