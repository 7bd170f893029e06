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

// softmax(q k^T * scale + mask) v, for q/k/v of shape [..., L, D]. 1.13 has no public
// scaled_dot_product_attention (only a private op whose signature changed in 2.0), so on 1.13 this
// is written out; on 2.x it uses the fused kernel. `mask` is additive (or undefined), `causal`
// applies a lower-triangular mask.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const at::Tensor& mask = {}, bool causal = false, double scale = -1.0);

}  // namespace mvb::compat
