#include "medvlmbench/nn/linear.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/blas_kernels.h"

namespace mvb::nn {
namespace {
std::atomic<CpuLinearRoute>& route_switch() {
  static std::atomic<CpuLinearRoute> route{[] {
    const char* env = std::getenv("MVB_CPU_LINEAR");
    const std::string v = env ? env : "auto";
    if (v == "aten") return CpuLinearRoute::kAtLinear;
    if (v == "onednn") return CpuLinearRoute::kOnednn;
    if (v == "blas") return CpuLinearRoute::kBlas;
    return CpuLinearRoute::kAuto;
  }()};
  return route;
}
// Below ~1M multiply-adds oneDNN's layout conversions cost more than it saves (tiny test towers, heads).
constexpr int64_t kOnednnMinMacs = int64_t{1} << 20;
// Matrix-vector shapes (token-by-token decoding: one row per sequence) are memory-bound, and there
// OpenBLAS's gemv beat oneDNN's matmul 1.8x per token (bench_generation_bench, LLaVA-shaped 98M decoder).
constexpr int64_t kOnednnMinRows = 16;
}  // namespace

CpuLinearRoute cpu_linear_route() { return route_switch().load(); }
void set_cpu_linear_route(CpuLinearRoute route) { route_switch().store(route); }

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", at::empty({out, in}));
  // nn.Linear's default init, so a randomly initialised head trains like PyTorch's.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
    bias = register_parameter("bias", at::empty({out}).uniform_(-bound, bound));
  }
}

CpuLinearKernel LinearImpl::choose_kernel(const at::Tensor& x) const {
  // Only inference (no autograd graph to keep) of fp32 on the CPU leaves at::linear.
  const CpuLinearRoute route = cpu_linear_route();
  if (route == CpuLinearRoute::kAtLinear || at::GradMode::is_enabled() || !x.device().is_cpu() || x.dim() < 1)
    return CpuLinearKernel::kAtLinear;
  if (in_features == 0 || out_features == 0 || x.size(-1) != in_features) return CpuLinearKernel::kAtLinear;
  if (x.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat || !weight.device().is_cpu())
    return CpuLinearKernel::kAtLinear;
  if (route != CpuLinearRoute::kOnednn && blas_kernels_available()) return CpuLinearKernel::kBlas;
  if (route == CpuLinearRoute::kBlas || !at::hasMKLDNN()) return CpuLinearKernel::kAtLinear;
  if (route == CpuLinearRoute::kAuto && at::hasMKL()) return CpuLinearKernel::kAtLinear;
  const int64_t rows = x.numel() / in_features;
  if (rows >= kOnednnMinRows && rows * in_features * out_features >= kOnednnMinMacs) return CpuLinearKernel::kOnednn;
  return CpuLinearKernel::kAtLinear;
}

at::Tensor LinearImpl::onednn_forward(const at::Tensor& x) {
  // The weight and bias go in as they are (dense, viewed by oneDNN in place): a oneDNN-layout copy kept
  // beside them doubled the memory of every fp32 weight on CPU (28 GB more for a 7B model) and measured
  // no faster here (Debian's 1.13 and the 2.x wheel, ViT-B and LLaMA-sized products, 1 thread).
  const at::Tensor w = weight.contiguous();
  const c10::optional<at::Tensor> b = bias.defined() ? c10::optional<at::Tensor>(bias.contiguous()) : c10::nullopt;
  at::Tensor rows = x.reshape({-1, in_features}).contiguous().to_mkldnn();
  at::Tensor y = at::mkldnn_linear(rows, w, b).to_dense();
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out_features;
  return y.view(shape);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  last_kernel_ = choose_kernel(x);
  at::Tensor y = last_kernel_ == CpuLinearKernel::kBlas
                     ? blas_linear(x, weight.contiguous(), bias.defined() ? bias.contiguous() : bias)
                 : last_kernel_ == CpuLinearKernel::kOnednn ? onednn_forward(x)
                                                            : at::linear(x, weight, bias);
  if (lora_A.defined() && !merged_) {
    at::Tensor h = lora.dropout > 0 && is_training() ? at::dropout(x, lora.dropout, true) : x;
    y = y + at::linear(at::linear(h, lora_A), lora_B) * lora.scaling();
  }
  return y;
}

void LinearImpl::enable_lora(const LoraConfig& cfg) {
  MVB_CHECK(!lora_A.defined(), "LoRA is already enabled on this layer");
  MVB_CHECK(cfg.r > 0, "LoRA rank must be positive (got ", cfg.r, ")");
  lora = cfg;
  auto opts = weight.options();
  lora_A = register_parameter("lora_A", at::empty({cfg.r, in_features}, opts));
  torch::nn::init::kaiming_uniform_(lora_A, std::sqrt(5.0));
  lora_B = register_parameter("lora_B", at::zeros({out_features, cfg.r}, opts));
}

void LinearImpl::merge_lora() {
  if (!lora_A.defined() || merged_) return;
  at::NoGradGuard no_grad;
  weight.add_(at::matmul(lora_B.to(at::kFloat), lora_A.to(at::kFloat)).mul(lora.scaling()).to(weight.scalar_type()));
  merged_ = true;
}

void LinearImpl::unmerge_lora() {
  if (!lora_A.defined() || !merged_) return;
  at::NoGradGuard no_grad;
  weight.sub_(at::matmul(lora_B.to(at::kFloat), lora_A.to(at::kFloat)).mul(lora.scaling()).to(weight.scalar_type()));
  merged_ = false;
}

namespace {
void collect(torch::nn::Module& m, const std::string& prefix, std::vector<std::pair<std::string, Linear>>& out) {
  for (auto& child : m.named_children()) {
    const std::string name = prefix.empty() ? child.key() : prefix + "." + child.key();
    if (auto lin = std::dynamic_pointer_cast<LinearImpl>(child.value()))
      out.emplace_back(name, Linear(lin));
    else
      collect(*child.value(), name, out);
  }
}
}  // namespace

std::vector<std::pair<std::string, Linear>> find_linears(torch::nn::Module& module) {
  std::vector<std::pair<std::string, Linear>> out;
  collect(module, "", out);
  return out;
}

}  // namespace mvb::nn
