// A Linear layer that can carry a LoRA adapter (Hu et al. 2021, as PEFT implements it):
//   y = x W^T + b + (dropout(x) A^T B^T) * alpha / r
// A is initialised like PEFT (Kaiming-uniform, a = sqrt(5)) and B with zeros, so an adapter starts as
// the identity change. Parameter names are weight / bias / lora_A / lora_B.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
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
  // Whether the latest forward() went through oneDNN, or through one matrix-vector product per row (for
  // tests and benchmarks).
  bool last_forward_used_onednn() const { return last_kernel_ == kOnednn; }
  bool last_forward_used_gemv() const { return last_kernel_ == kGemv; }

  int64_t in_features, out_features;
  at::Tensor weight, bias, lora_A, lora_B;
  LoraConfig lora;

 private:
  // Inference on CPU in fp32 (see use_onednn_linear) bypasses at::linear: many rows go through oneDNN,
  // reading the weight where it is (no second copy in oneDNN's layout); one to three rows (token-by-token
  // decoding) through one BLAS gemv per row (see kGemvMaxRows in linear.cpp).
  enum CpuKernel { kAtLinear, kOnednn, kGemv };
  CpuKernel choose_kernel(const at::Tensor& x) const;
  at::Tensor onednn_forward(const at::Tensor& x);
  at::Tensor gemv_forward(const at::Tensor& x);
  CpuKernel last_kernel_ = kAtLinear;
  bool merged_ = false;
};
TORCH_MODULE(Linear);

// Whether no-grad fp32 CPU forwards bypass at::linear: layers with many rows use oneDNN's matmul,
// those with at most three rows one gemv per row (on by default when LibTorch has oneDNN but not MKL;
// MVB_ONEDNN_LINEAR=0 or =1 in the environment turns it off or on). Debian's LibTorch sends fp32
// at::linear to the generic BLAS (OpenBLAS), which measured ~1.3x slower per product than oneDNN for many
// rows and 2.1x slower than its own gemv for one row; with MKL (LibTorch 2.x wheels and archives)
// at::linear is the faster one. Results agree to fp32 rounding (tests/nn/linear_onednn_test.cpp).
bool use_onednn_linear();
void set_onednn_linear(bool on);

// Every Linear inside `module` (recursively), with its dotted path.
std::vector<std::pair<std::string, Linear>> find_linears(torch::nn::Module& module);

}  // namespace mvb::nn
