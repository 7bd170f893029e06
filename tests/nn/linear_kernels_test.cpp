// The CPU kernels of nn::Linear (no-grad fp32 inference): the split OpenBLAS route and the oneDNN route
// against at::linear, every change of the weight seen by the next forward, no second copy of the weight
// kept, and autograd always on at::linear.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "medvlmbench/nn/blas_kernels.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::nn {
namespace {

// 64 x 256 x 128 = 2M multiply-adds: above the size where oneDNN is used.
constexpr int64_t kIn = 256, kOut = 128;

// Sets a route for one test and puts the default back.
struct RouteGuard {
  explicit RouteGuard(CpuLinearRoute r) { set_cpu_linear_route(r); }
  ~RouteGuard() { set_cpu_linear_route(CpuLinearRoute::kAuto); }
};

TEST(OnednnLinear, MatchesAtLinearAndFollowsWeightChanges) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this LibTorch has no oneDNN: nn::Linear always uses at::linear";
  RouteGuard route(CpuLinearRoute::kOnednn);
  at::manual_seed(0);
  Linear lin(kIn, kOut, true);
  at::Tensor x = at::randn({4, 16, kIn});
  at::NoGradGuard no_grad;
  auto expect = [&] { return at::linear(x, lin->weight, lin->bias); };
  at::Tensor y = lin->forward(x);
  EXPECT_TRUE(lin->last_kernel() == CpuLinearKernel::kOnednn);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 16, kOut}));
  EXPECT_LT((y - expect()).abs().max().item<double>(), 1e-4);
  // An in-place change of the weight or the bias (loading, merging LoRA) is seen by the next forward.
  lin->weight.mul_(-2.0);
  EXPECT_LT((lin->forward(x) - expect()).abs().max().item<double>(), 1e-4);
  lin->bias.add_(1.0);
  EXPECT_LT((lin->forward(x) - expect()).abs().max().item<double>(), 1e-4);
  // A merged adapter too.
  lin->enable_lora(LoraConfig{4, 8, 0.0});
  lin->lora_B.normal_();
  at::Tensor adapted = lin->forward(x);
  EXPECT_LT(
      (adapted - (expect() + at::linear(at::linear(x, lin->lora_A), lin->lora_B) * 2.0)).abs().max().item<double>(),
      1e-3);
  lin->merge_lora();
  EXPECT_LT((lin->forward(x) - adapted).abs().max().item<double>(), 1e-3);
  // Non-contiguous input.
  at::Tensor xt = at::randn({kIn, 64}).t();
  EXPECT_LT((lin->forward(xt) - at::linear(xt, lin->weight, lin->bias)).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(lin->last_kernel() == CpuLinearKernel::kOnednn);
}

// Resident memory of this process in bytes (Linux /proc/self/statm; 0 elsewhere).
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * 4096;
}

// A 32 MB weight: the oneDNN route must not keep a copy of it in oneDNN's layout (it once did, which
// doubled every fp32 weight's memory on CPU). Buffers this large are mmap'ed by the allocator and
// returned on free, so what stays resident after the forward is what the layer kept.
TEST(OnednnLinear, KeepsNoSecondCopyOfTheWeight) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this LibTorch has no oneDNN";
  if (resident_bytes() == 0) GTEST_SKIP() << "no /proc/self/statm here";
  RouteGuard route(CpuLinearRoute::kOnednn);
  Linear lin(4096, 2048, false);
  at::Tensor x = at::randn({16, 4096});
  at::NoGradGuard no_grad;
  lin->forward(x);  // first call: oneDNN's primitive cache and thread pools warm up
  ASSERT_TRUE(lin->last_kernel() == CpuLinearKernel::kOnednn);
  Linear other(4096, 2048, false);
  const int64_t before = resident_bytes();
  at::Tensor y = other->forward(x);
  ASSERT_TRUE(other->last_kernel() == CpuLinearKernel::kOnednn);
  const int64_t grown = resident_bytes() - before;
  const int64_t weight_bytes = other->weight.numel() * static_cast<int64_t>(sizeof(float));
  EXPECT_LT(grown, weight_bytes / 4) << "the forward kept " << grown << " bytes resident for a " << weight_bytes
                                     << "-byte weight";
  EXPECT_LT((y - at::linear(x, other->weight)).abs().max().item<double>(), 1e-3);
}

TEST(OnednnLinear, AutogradStillFlowsThroughAtLinear) {
  // With grad mode on (training LoRA), no inference kernel is taken and gradients reach the weights.
  Linear lin(kIn, kOut, true);
  at::Tensor x = at::randn({64, kIn});
  lin->forward(x).sum().backward();
  EXPECT_EQ(lin->last_kernel(), CpuLinearKernel::kAtLinear);
  ASSERT_TRUE(lin->weight.grad().defined());
  EXPECT_GT(lin->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(OnednnLinear, SmallLayersStayOnAtLinear) {
  RouteGuard route(CpuLinearRoute::kOnednn);
  Linear lin(8, 4, true);
  at::NoGradGuard no_grad;
  lin->forward(at::randn({3, 8}));
  EXPECT_FALSE(lin->last_kernel() == CpuLinearKernel::kOnednn);
}

// Token-by-token decoding multiplies one row per sequence by a large weight: the oneDNN route leaves those to
// at::linear (oneDNN's matmul lost to gemv there).
TEST(OnednnLinear, FewRowsStayOnAtLinearEvenForLargeLayers) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this LibTorch has no oneDNN";
  RouteGuard route(CpuLinearRoute::kOnednn);
  Linear lin(1024, 2048, true);
  at::NoGradGuard no_grad;
  lin->forward(at::randn({2, 1, 1024}));
  EXPECT_EQ(lin->last_kernel(), CpuLinearKernel::kAtLinear);
  lin->forward(at::randn({2, 32, 1024}));
  EXPECT_EQ(lin->last_kernel(), CpuLinearKernel::kOnednn);
}

// The OpenBLAS route: one sgemv per row for one to three rows, one sgemm per block of output features beyond,
// the blocks split over the threads. at::linear's result to fp32 rounding for every row count, leading shape,
// bias or none, output sizes that do not divide into the 16-feature blocks, and non-contiguous input.
TEST(BlasLinear, MatchesAtLinearForEveryRowCountAndShape) {
  if (!blas_kernels_available()) GTEST_SKIP() << "this LibTorch's BLAS is not OpenBLAS (or it has MKL)";
  configure_cpu_threads();
  RouteGuard route(CpuLinearRoute::kAuto);
  at::manual_seed(1);
  for (const int64_t out : {200, 37, 1}) {
    for (const bool with_bias : {true, false}) {
      Linear lin(96, out, with_bias);
      at::NoGradGuard no_grad;
      for (const auto& shape : std::vector<std::vector<int64_t>>{
               {1, 96}, {1, 1, 96}, {2, 1, 96}, {3, 96}, {96}, {4, 96}, {2, 8, 96}, {700, 96}, {0, 96}}) {
        const at::Tensor x = at::randn(shape);
        const at::Tensor y = lin->forward(x);
        EXPECT_EQ(lin->last_kernel(), CpuLinearKernel::kBlas) << x.sizes();
        const at::Tensor want = at::linear(x, lin->weight, with_bias ? lin->bias : at::Tensor());
        ASSERT_EQ(y.sizes(), want.sizes());
        if (want.numel() > 0) EXPECT_LT((y - want).abs().max().item<double>(), 1e-5) << x.sizes() << " out " << out;
      }
      const at::Tensor xt = at::randn({96, 40}).t();
      EXPECT_LT((lin->forward(xt) - at::linear(xt, lin->weight, with_bias ? lin->bias : at::Tensor()))
                    .abs()
                    .max()
                    .item<double>(),
                1e-5);
    }
  }
  // A layer large enough to be split (beyond 64K multiply-adds), in place changes of its weight seen.
  Linear big(512, 1024, true);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({33, 512});
  EXPECT_LT((big->forward(x) - at::linear(x, big->weight, big->bias)).abs().max().item<double>(), 1e-4);
  big->weight.mul_(-3.0);
  EXPECT_LT((big->forward(x) - at::linear(x, big->weight, big->bias)).abs().max().item<double>(), 1e-4);
}

// The split must really run on several threads: at::parallel_for's OpenMP pragma sits in ATen's headers, and
// the kernels' file compiled without OpenMP ran every split on one thread (the product as slow as unsplit).
TEST(BlasLinear, SplitRunsOnEveryIntraOpThread) {
  if (!blas_kernels_available()) GTEST_SKIP() << "this LibTorch's BLAS is not OpenBLAS (or it has MKL)";
  const CpuThreads threads = configure_cpu_threads();
  if (threads.intra_op < 2 || blas_kernels_split() < 2)
    GTEST_SKIP() << "one intra-op thread (or OpenBLAS threaded by the environment): nothing to split";
  EXPECT_EQ(blas_kernels_parallel_threads(), blas_kernels_split());
}

TEST(OnednnLinear, SwitchOffUsesAtLinearExactly) {
  RouteGuard route(CpuLinearRoute::kAtLinear);
  Linear lin(kIn, kOut, true);
  at::Tensor x = at::randn({64, kIn});
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(lin->forward(x), at::linear(x, lin->weight, lin->bias)));
  EXPECT_EQ(lin->last_kernel(), CpuLinearKernel::kAtLinear);
  const at::Tensor row = at::randn({1, kIn});
  EXPECT_TRUE(at::equal(lin->forward(row), at::linear(row, lin->weight, lin->bias)));
  EXPECT_EQ(lin->last_kernel(), CpuLinearKernel::kAtLinear);
}

TEST(CpuThreads, ConfiguresLibTorchOnce) {
  const CpuThreads first = configure_cpu_threads();
  EXPECT_GE(first.intra_op, 1);
  EXPECT_EQ(at::get_num_threads(), first.intra_op);
  // One thread per CPU of the affinity mask, whatever the machine's load (unless the env asks).
  if (!std::getenv("MVB_NUM_THREADS") && !std::getenv("OMP_NUM_THREADS")) {
    EXPECT_EQ(first.intra_op, usable_cpus());
  }
  EXPECT_EQ(configure_cpu_threads().intra_op, first.intra_op);  // idempotent
}

}  // namespace
}  // namespace mvb::nn
