// Building a module directly in a half type. LibTorch modules allocate their parameters in the
// default dtype (float32) and initialise them; a 7B decoder built that way holds 28 GB of fp32 before
// ->to(kBFloat16) makes a second, 14 GB copy. While a DefaultDtypeGuard lives, parameters are created
// in `dtype` instead, so only one copy of the model's size ever exists:
//
//   nn::CausalLM lm{nullptr};
//   { nn::DefaultDtypeGuard bf16(at::kBFloat16); lm = nn::CausalLM(options); }
//   nn::assign_weights(*lm, nn::read_weights(sd, rename), sd.source());   // copies into bf16 in place
//
// The default dtype is process-wide (c10::set_default_dtype): keep the guard's scope to the
// construction, and do not build float32 modules on other threads meanwhile.
#pragma once

#include <c10/core/DefaultDtype.h>
#include <c10/core/ScalarType.h>

namespace mvb::nn {

class DefaultDtypeGuard {
 public:
  explicit DefaultDtypeGuard(at::ScalarType dtype) : previous_(c10::get_default_dtype()) {
    c10::set_default_dtype(c10::scalarTypeToTypeMeta(dtype));
  }
  ~DefaultDtypeGuard() { c10::set_default_dtype(previous_); }
  DefaultDtypeGuard(const DefaultDtypeGuard&) = delete;
  DefaultDtypeGuard& operator=(const DefaultDtypeGuard&) = delete;

 private:
  caffe2::TypeMeta previous_;
};

}  // namespace mvb::nn
