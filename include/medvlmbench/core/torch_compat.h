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

// The thread's autocast settings (torch.autocast): whether CUDA and CPU autocast are on and their
// lower-precision dtypes. LibTorch 2.4 replaced is_enabled() / is_cpu_enabled() by
// is_autocast_enabled(device type); these read and write either.
struct AutocastState {
  bool cuda = false, cpu = false;
  at::ScalarType cuda_dtype = at::kHalf, cpu_dtype = at::kBFloat16;
};
AutocastState autocast_state();
void set_autocast_state(const AutocastState& s);

// Turns autocast on for `device_type` (kCUDA or kCPU) with `dtype` for its lifetime and restores the
// previous settings (clearing the cast cache, as torch.autocast's __exit__ does).
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device_type, at::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  AutocastState previous_;
};

}  // namespace mvb::compat
