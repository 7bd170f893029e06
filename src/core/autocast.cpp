#include "medvlmbench/core/autocast.h"

#include <ATen/autocast_mode.h>

#include "medvlmbench/core/torch_compat.h"

namespace mvb::compat {

AutocastState autocast_state() {
  AutocastState s;
#if MVB_TORCH_AT_LEAST(2, 4)
  s.cuda = at::autocast::is_autocast_enabled(c10::DeviceType::CUDA);
  s.cpu = at::autocast::is_autocast_enabled(c10::DeviceType::CPU);
  s.cuda_dtype = at::autocast::get_autocast_dtype(c10::DeviceType::CUDA);
  s.cpu_dtype = at::autocast::get_autocast_dtype(c10::DeviceType::CPU);
#else
  s.cuda = at::autocast::is_enabled();
  s.cpu = at::autocast::is_cpu_enabled();
  s.cuda_dtype = at::autocast::get_autocast_gpu_dtype();
  s.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
#endif
  return s;
}

void set_autocast_state(const AutocastState& s) {
#if MVB_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(c10::DeviceType::CUDA, s.cuda);
  at::autocast::set_autocast_enabled(c10::DeviceType::CPU, s.cpu);
  at::autocast::set_autocast_dtype(c10::DeviceType::CUDA, s.cuda_dtype);
  at::autocast::set_autocast_dtype(c10::DeviceType::CPU, s.cpu_dtype);
#else
  at::autocast::set_enabled(s.cuda);
  at::autocast::set_cpu_enabled(s.cpu);
  at::autocast::set_autocast_gpu_dtype(s.cuda_dtype);
  at::autocast::set_autocast_cpu_dtype(s.cpu_dtype);
#endif
}

AutocastGuard::AutocastGuard(c10::DeviceType device_type, at::ScalarType dtype) : previous_(autocast_state()) {
  AutocastState s = previous_;
  if (device_type == c10::DeviceType::CUDA) {
    s.cuda = true;
    s.cuda_dtype = dtype;
  } else {
    s.cpu = true;
    s.cpu_dtype = dtype;
  }
  set_autocast_state(s);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  // Casts of the weights are cached while autocast is on; the cache is dropped when the outermost
  // autocast region ends, as torch.autocast does.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_state(previous_);
}

}  // namespace mvb::compat
