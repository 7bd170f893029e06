// fp32 inference kernels for LibTorch builds whose BLAS is OpenBLAS (Debian's LibTorch 1.13): the products
// of a Linear layer and of attention, split over LibTorch's intra-op threads, each piece ONE single-threaded
// OpenBLAS call on plain (strided) memory.
//
// Why: configure_cpu_threads() sets OpenBLAS to one thread (LibTorch's OpenMP pool and OpenBLAS's own
// threads must not nest), so every at::linear and at::bmm that reaches OpenBLAS ran on one core; oneDNN
// (the earlier route for many rows) needs a layout conversion of input and output on every call and
// measured ~140-170 GFLOPS where two OpenBLAS threads reach ~280 (2 CPUs, SkylakeX kernels); and 1.13's
// at::bmm walks its batch one matrix at a time (an at::select and an addmm per matrix), which made
// token-by-token attention cost more than all the layer's weights. MKL builds (the PyPI wheel) never get
// here: MKL's sgemm threads itself on LibTorch's pool and 2.x has fused attention.
#pragma once

#include <ATen/ATen.h>

namespace mvb::nn {

// Whether the kernels below can run: OpenBLAS's CBLAS entry points are loaded and LibTorch has no MKL.
bool blas_kernels_available();
// How many pieces they split a product into: LibTorch's intra-op threads when OpenBLAS runs one thread per
// call (configure_cpu_threads()), else 1 (OpenBLAS threads each call itself; a split would nest two pools).
int blas_kernels_split();
// How many distinct threads a split actually ran on (for tests: the OpenMP pragma of at::parallel_for is in
// ATen's headers, so this file must be compiled with OpenMP, src/nn/area.cmake).
int blas_kernels_parallel_threads();

// y = x W^T + b for fp32 CPU tensors: x [..., in], weight [out, in] (contiguous), bias [out] or undefined.
// The output features are split into blas_kernels_split() contiguous blocks; rows <= 3 take one sgemv
// per row (OpenBLAS's sgemm packs the whole weight on every call), more rows one sgemm per block.
at::Tensor blas_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// softmax(q k^T * scale + mask) v for fp32 CPU tensors, one task per (batch, query head): q [B, H, L, D],
// k and v [B, KV, S, D] with H a multiple of KV (grouped-query attention: head h reads kv head
// h / (H / KV)), each with a unit stride on D (views of a KV cache or of [B, L, H, D] projections are
// fine); mask additive, broadcastable to [B, 1, L, S], or undefined. Returns [B, H, L, D] as a view of a
// contiguous [B, L, H, D] tensor, so the caller's transpose(1, 2).reshape({B, L, H * D}) copies nothing.
// Rows whose keys are all masked with the dtype's lowest value get uniform weights, as at::softmax gives.
at::Tensor blas_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                          double scale);

// Whether blas_attention() takes these arguments (fp32 CPU, shapes as above, no autograd).
bool blas_attention_applies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);

}  // namespace mvb::nn
