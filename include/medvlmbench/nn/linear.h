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

// What a no-grad fp32 CPU forward of a Linear runs on. kAtLinear everywhere else (autograd, other dtypes
// and devices).
//   kBlas: blas_linear() (nn/blas_kernels.h): the output features split over LibTorch's threads, one
//     single-threaded OpenBLAS sgemm (or sgemv per row, for one to three rows) each, the weight read in place.
//   kOnednn: oneDNN's matmul for 16 rows or more (the input and output converted to its layout and back).
//   kAtLinear: at::linear (MKL's sgemm on the PyPI wheel, which threads itself on LibTorch's pool).
enum class CpuLinearKernel { kAtLinear, kOnednn, kBlas };
// kAuto: kBlas where blas_kernels_available() (Debian's LibTorch: OpenBLAS, set to one thread by
// configure_cpu_threads()), else kOnednn where LibTorch has oneDNN but not MKL, else at::linear. Measured on
// 2 CPUs (SkylakeX kernels, bench_generation_bench's 98M LLaVA-shaped decoder): ~280 GFLOPS for kBlas against
// ~140-170 for oneDNN with its conversions on prompt-sized products, and 2 threads of gemv bandwidth instead of
// one for decoding. MVB_CPU_LINEAR=auto|aten|onednn|blas in the environment sets the route; a forced route the
// build cannot run falls back to at::linear. Results agree to fp32 rounding (tests/nn/linear_kernels_test.cpp).
enum class CpuLinearRoute { kAuto, kAtLinear, kOnednn, kBlas };
CpuLinearRoute cpu_linear_route();
void set_cpu_linear_route(CpuLinearRoute route);

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
  // The kernel of the latest forward() (for tests and benchmarks).
  CpuLinearKernel last_kernel() const { return last_kernel_; }

  int64_t in_features, out_features;
  at::Tensor weight, bias, lora_A, lora_B;
  LoraConfig lora;

 private:
  CpuLinearKernel choose_kernel(const at::Tensor& x) const;
  at::Tensor onednn_forward(const at::Tensor& x);
  CpuLinearKernel last_kernel_ = CpuLinearKernel::kAtLinear;
  bool merged_ = false;
};
TORCH_MODULE(Linear);

// Every Linear inside `module` (recursively), with its dotted path.
std::vector<std::pair<std::string, Linear>> find_linears(torch::nn::Module& module);

}  // namespace mvb::nn
