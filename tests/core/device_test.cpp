#include "medvlmbench/core/device.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mvb
