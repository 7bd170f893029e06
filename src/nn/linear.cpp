#include "medvlmbench/nn/linear.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "medvlmbench/core/error.h"

namespace mvb::nn {
namespace {
// On by default only where at::linear has no MKL behind it (Debian's LibTorch: generic BLAS, i.e.
// OpenBLAS). A LibTorch with MKL (the PyPI wheel, pytorch.org's archives) runs fp32 at::linear through
// MKL's sgemm, which measured 5-25% faster than this oneDNN path (torch 2.15 wheel, 1 thread, ViT-B
// and CLIP-text sized products) and needs no second copy of the weights.
std::atomic<bool>& onednn_switch() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("MVB_ONEDNN_LINEAR");
    if (env && std::strcmp(env, "0") == 0) return false;
    if (env && std::strcmp(env, "1") == 0) return at::hasMKLDNN();
    return at::hasMKLDNN() && !at::hasMKL();
  }()};
  return on;
}
// Below ~1M multiply-adds the layout conversions cost more than oneDNN saves (tiny test towers, heads).
constexpr int64_t kOnednnMinMacs = int64_t{1} << 20;
// Matrix-vector shapes (token-by-token decoding: one row per sequence) are memory-bound, and there
// OpenBLAS's gemv beat oneDNN's matmul 1.8x per token (bench_generation_bench, LLaVA-shaped 98M decoder).
constexpr int64_t kOnednnMinRows = 16;
}  // namespace

bool use_onednn_linear() { return onednn_switch().load(); }
void set_onednn_linear(bool on) { onednn_switch().store(on && at::hasMKLDNN()); }

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", at::empty({out, in}));
  // nn.Linear's default init, so a randomly initialised head trains like PyTorch's.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
    bias = register_parameter("bias", at::empty({out}).uniform_(-bound, bound));
  }
}

bool LinearImpl::onednn_eligible(const at::Tensor& x) const {
  if (!use_onednn_linear() || at::GradMode::is_enabled() || !x.device().is_cpu() || x.dim() < 2) return false;
  if (in_features == 0 || out_features == 0) return false;
  if (x.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat || !weight.device().is_cpu()) return false;
  const int64_t rows = x.numel() / in_features;
  return rows >= kOnednnMinRows && rows * in_features * out_features >= kOnednnMinMacs;
}

at::Tensor LinearImpl::onednn_forward(const at::Tensor& x) {
  at::Tensor w, b;
  {
    std::lock_guard<std::mutex> lock(*dnn_mutex_);
    const bool fresh = dnn_weight_.defined() && dnn_source_.weight_data == weight.data_ptr() &&
                       dnn_source_.weight_version == static_cast<int64_t>(weight._version()) &&
                       dnn_source_.bias_data == (bias.defined() ? bias.data_ptr() : nullptr) &&
                       dnn_source_.bias_version == (bias.defined() ? static_cast<int64_t>(bias._version()) : -1);
    if (!fresh) {
      dnn_weight_ = weight.contiguous().to_mkldnn();
      dnn_bias_ = bias.defined() ? bias.contiguous().to_mkldnn() : at::Tensor();
      dnn_source_.weight = weight.storage();
      dnn_source_.weight_data = weight.data_ptr();
      dnn_source_.weight_version = static_cast<int64_t>(weight._version());
      dnn_source_.bias = bias.defined() ? bias.storage() : c10::Storage();
      dnn_source_.bias_data = bias.defined() ? bias.data_ptr() : nullptr;
      dnn_source_.bias_version = bias.defined() ? static_cast<int64_t>(bias._version()) : -1;
    }
    w = dnn_weight_;
    b = dnn_bias_;
  }
  at::Tensor rows = x.reshape({-1, in_features}).contiguous().to_mkldnn();
  at::Tensor y = at::mkldnn_linear(rows, w, b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt).to_dense();
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out_features;
  return y.view(shape);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  last_onednn_ = onednn_eligible(x);
  at::Tensor y = last_onednn_ ? onednn_forward(x) : at::linear(x, weight, bias);
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
