#include "medvlmbench/core/device.h"

#include <gtest/gtest.h>

#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"

namespace mvb {
namespace {

TEST(Device, ParsesSpecs) {
  EXPECT_TRUE(resolve_device("cpu").is_cpu());
  EXPECT_TRUE(resolve_device("CPU").is_cpu());
  EXPECT_EQ(resolve_device("auto").is_cuda(), compat::cuda_available());
  EXPECT_THROW(resolve_device("gpu"), UsageError);
  EXPECT_THROW(resolve_device("cuda:x"), UsageError);
  EXPECT_THROW(resolve_device("cuda:"), UsageError);
}

TEST(Device, CudaWithoutCudaIsAClearRuntimeError) {
  if (compat::cuda_available()) GTEST_SKIP() << "CUDA present: the CPU-only error path does not apply";
  try {
    resolve_device("cuda:0");
    FAIL();
  } catch (const UsageError&) {
    FAIL() << "a well-formed spec must not be a usage error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use --device cpu"), std::string::npos) << e.what();
  }
}

// A CUDA LibTorch linked with --as-needed can silently lose libtorch_cuda (nothing of ours calls
// it directly), and then CUDA is "not available" even on a GPU machine.
TEST(TorchCompat, CudaLibTorchIsLoadedWhenConfigured) {
  EXPECT_EQ(!compat::cuda_build_version().empty(), compat::configured_with_cuda())
      << "cuda_build_version() = '" << compat::cuda_build_version() << "'";
}

TEST(TorchCompat, AttentionMatchesManualSoftmax) {
  at::manual_seed(0);
  at::Tensor q = at::randn({2, 3, 5, 8}), k = at::randn({2, 3, 7, 8}), v = at::randn({2, 3, 7, 4});
  at::Tensor ref = at::matmul(at::softmax(at::matmul(q, k.transpose(-2, -1)) / std::sqrt(8.0), -1), v);
  EXPECT_TRUE(at::allclose(compat::scaled_dot_product_attention(q, k, v), ref, 1e-5, 1e-6));
  // Causal with Lq == Lk: position i sees keys 0..i only.
  at::Tensor k2 = at::randn({1, 1, 4, 8}), q2 = at::randn({1, 1, 4, 8}), v2 = at::randn({1, 1, 4, 2});
  at::Tensor out = compat::scaled_dot_product_attention(q2, k2, v2, {}, /*causal=*/true);
  at::Tensor first = v2[0][0][0];  // row 0 attends only to key 0
  EXPECT_TRUE(at::allclose(out[0][0][0], first, 1e-5, 1e-6));
}

// What the wrapper must add to LibTorch 2.x's fused op: an additive mask of another dtype than q, a
// causal triangle aligned to the last query when Lq < Lk (SDPA's own is_causal aligns it top-left
// and refuses a mask beside it), and an explicit scale.
TEST(TorchCompat, AttentionWithMaskCausalAndScaleMatchesManualSoftmax) {
  at::manual_seed(1);
  at::Tensor q = at::randn({2, 3, 3, 8}), k = at::randn({2, 3, 6, 8}), v = at::randn({2, 3, 6, 4});
  at::Tensor mask = at::zeros({2, 1, 1, 6});
  mask[1][0][0][0] = -1e9;  // the second sample's first key is padding
  const double scale = 0.3;
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale + mask;
  at::Tensor hidden = at::ones({3, 6}, at::kBool).triu(6 - 3 + 1);  // query i sees keys 0..i+3
  at::Tensor ref = at::matmul(at::softmax(scores.masked_fill(hidden, -INFINITY), -1), v);
  at::Tensor out = compat::scaled_dot_product_attention(q, k, v, mask, /*causal=*/true, scale);
  EXPECT_TRUE(at::allclose(out, ref, 1e-5, 1e-6)) << (out - ref).abs().max().item<float>();
  // bf16 inputs with the fp32 mask: within bf16 rounding of the fp32 result.
  at::Tensor half = compat::scaled_dot_product_attention(q.to(at::kBFloat16), k.to(at::kBFloat16),
                                                         v.to(at::kBFloat16), mask, true, scale);
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  EXPECT_LT((half.to(at::kFloat) - ref).abs().max().item<float>(), 5e-2);
}

}  // namespace
}  // namespace mvb
