// A Linear layer that can carry a LoRA adapter (Hu et al. 2021, as PEFT implements it):
//   y = x W^T + b + (dropout(x) A^T B^T) * alpha / r
// A is initialised like PEFT (Kaiming-uniform, a = sqrt(5)) and B with zeros, so an adapter starts as
// the identity change. Parameter names are weight / bias / lora_A / lora_B.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace mvb::nn {

struct LoraConfig {
  int r = 8;
  double alpha = 32;
  double dropout = 0.05;
  double scaling() const { return alpha / r; }
};

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  at::Tensor forward(const at::Tensor& x);

  // Adds a trainable adapter (the base weight stays as it is). Calling it twice is an error.
  void enable_lora(const LoraConfig& cfg);
  bool has_lora() const { return lora_A.defined(); }
  // Folds the adapter into the weight (W += B A * scaling) so inference costs a plain Linear;
  // unmerge_lora() subtracts it again (e.g. to continue training). Both are no-ops when not applicable.
  void merge_lora();
  void unmerge_lora();
  bool lora_merged() const { return merged_; }

  int64_t in_features, out_features;
  at::Tensor weight, bias, lora_A, lora_B;
  LoraConfig lora;

 private:
  bool merged_ = false;
};
TORCH_MODULE(Linear);

// Every Linear inside `module` (recursively), with its dotted path.
std::vector<std::pair<std::string, Linear>> find_linears(torch::nn::Module& module);

}  // namespace mvb::nn
