#include "medvlmbench/nn/linear.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", at::empty({out, in}));
  // nn.Linear's default init, so a randomly initialised head trains like PyTorch's.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
    bias = register_parameter("bias", at::empty({out}).uniform_(-bound, bound));
  }
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::linear(x, weight, bias);
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
