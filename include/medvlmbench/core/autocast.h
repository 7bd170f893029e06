// Autocast (torch.autocast) from C++ for LibTorch 1.13 and 2.x: mixed-precision training on CUDA
// (bf16 / fp16) and CPU (bf16), and the state the gradient checkpoint replays (nn/checkpoint.h).
#pragma once

#include <ATen/core/Tensor.h>

namespace mvb::compat {

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
