// Float CPU tensors whose memory is recycled. Data-loader workers allocate one model input per image
// (~600 KB for CLIP 224) and the consumer frees it on another thread; through malloc, glibc hands
// such blocks back to the kernel, so every image page-faults its tensor in again (~90 faults,
// ~0.1 ms per image, a tenth of the whole decode + preprocess). Freed blocks go to a small
// process-wide free list instead and the next image reuses them.
#pragma once

#include <ATen/core/Tensor.h>

namespace mvb {

// An uninitialised contiguous float tensor of `sizes`, like at::empty(sizes, at::kFloat).
at::Tensor pooled_float_tensor(at::IntArrayRef sizes);

}  // namespace mvb
