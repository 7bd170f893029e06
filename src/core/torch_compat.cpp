#include "medvlmbench/core/torch_compat.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>

#include <cmath>
#include <limits>

#include "medvlmbench/build_info.h"

// The headers compiled against must be those of the LibTorch CMake found: Debian's LibTorch 1.13
// headers sit in /usr/include, and a LibTorch 2.x whose include folders came after them would build
// against the wrong version (and then fail, or worse, link and misbehave).
static_assert(TORCH_VERSION_MAJOR == MVB_TORCH_CONFIG_VERSION_MAJOR &&
                  TORCH_VERSION_MINOR == MVB_TORCH_CONFIG_VERSION_MINOR,
              "LibTorch headers differ from the LibTorch found by CMake: check the include order");

namespace mvb::compat {

bool cuda_available() { return torch::cuda::is_available(); }
int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }
bool configured_with_cuda() { return MVB_TORCH_CUDA_BUILD != 0; }

std::string cuda_build_version() {
  // The CUDA hooks are registered by libtorch_cuda when it is loaded; the default hooks of a CPU
  // LibTorch answer hasCUDART() = false.
  const auto& hooks = at::detail::getCUDAHooks();
  if (!hooks.hasCUDART()) return "";
  const long v = hooks.versionCUDART();  // e.g. 13020
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

namespace {
// Additive mask that hides key j from query i when j > i + (Lk - Lq): the last query sees every key
// (bottom-right aligned, as HF's causal masks with a key/value cache are).
at::Tensor causal_mask(int64_t lq, int64_t lk, const at::TensorOptions& opts) {
  return at::zeros({lq, lk}, opts)
      .masked_fill_(at::ones({lq, lk}, opts.dtype(at::kBool)).triu_(lk - lq + 1),
                    -std::numeric_limits<float>::infinity());
}
}  // namespace

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const at::Tensor& mask, bool causal, double scale) {
  const int64_t lq = q.size(-2), lk = k.size(-2);
#if MVB_TORCH_AT_LEAST(2, 1)
  // The fused op (flash / memory-efficient kernels on CUDA, a blocked flash kernel on CPU). Its
  // is_causal aligns the triangle top-left and refuses an explicit mask beside it, so any causal case
  // other than a plain square one goes in as an additive mask; the mask must have q's dtype.
  at::Tensor m = mask.defined() ? mask.to(q.scalar_type()) : at::Tensor();
  const bool fused_causal = causal && !m.defined() && lq == lk;
  if (causal && !fused_causal) {
    at::Tensor c = causal_mask(lq, lk, q.options());
    m = m.defined() ? m + c : c;
  }
  return at::scaled_dot_product_attention(q, k, v, m.defined() ? std::optional<at::Tensor>(m) : std::nullopt,
                                          /*dropout_p=*/0.0, fused_causal,
                                          scale > 0 ? std::optional<double>(scale) : std::nullopt);
#else
  // 1.13 has no public scaled_dot_product_attention: the same steps written out.
  const double s = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * s;
  if (causal) scores = scores + causal_mask(lq, lk, scores.options());
  if (mask.defined()) scores = scores + mask;
  // softmax in fp32 for stability with half inputs, as HF's eager attention does.
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, v);
#endif
}

bool fused_attention() { return MVB_TORCH_AT_LEAST(2, 1); }

}  // namespace mvb::compat
