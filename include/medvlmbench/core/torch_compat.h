// The one place that knows about LibTorch version differences. The project builds against Debian's
// CPU LibTorch 1.13 and against CUDA LibTorch 2.x; code elsewhere calls these helpers instead of
// testing versions itself.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

#include <string>

#define MVB_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace mvb::compat {

inline std::string torch_version() { return TORCH_VERSION; }

// Whether this LibTorch was built with CUDA and a device is visible.
bool cuda_available();
int cuda_device_count();
// The CUDA runtime version the loaded LibTorch was built with ("13.2"), or "" for a CPU-only
// LibTorch (or one whose CUDA library was not loaded). Needs no device.
std::string cuda_build_version();
// Whether CMake configured against a CUDA LibTorch (then cuda_build_version() must not be empty).
bool configured_with_cuda();

// softmax(q k^T * scale + mask) v, for q/k/v of shape [..., L, D]. On LibTorch >= 2.1 this is
// at::scaled_dot_product_attention (fused kernels); 1.13 has no public one (only a private op whose
// signature changed in 2.0), so there it is written out. `mask` is additive (or undefined), `causal`
// hides later keys (aligned to the last query when Lq < Lk), `scale` <= 0 means 1/sqrt(D).
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const at::Tensor& mask = {}, bool causal = false, double scale = -1.0);
// Whether scaled_dot_product_attention runs LibTorch's fused op (rather than the written-out steps).
bool fused_attention();

}  // namespace mvb::compat
