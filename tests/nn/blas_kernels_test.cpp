// nn::blas_attention (LibTorch 1.13 + OpenBLAS inference attention) against the textbook computation in
// float64: prompt passes (many queries) and token-by-token steps (one query), grouped-query heads, keys
// and values as strided views of a KV cache, padding and causal masks, rows whose keys are all masked, and
// blocks small and large enough for both of its softmax paths.
#include "medvlmbench/nn/blas_kernels.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <limits>

#include "medvlmbench/nn/cpu_threads.h"

namespace mvb::nn {
namespace {

at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                     double scale) {
  const int64_t groups = q.size(1) / k.size(1);
  const at::Tensor kd = k.to(at::kDouble).repeat_interleave(groups, 1),
                   vd = v.to(at::kDouble).repeat_interleave(groups, 1);
  at::Tensor scores = at::matmul(q.to(at::kDouble), kd.transpose(-2, -1)) * scale;
  if (mask.defined()) scores = scores + mask.to(at::kDouble);
  return at::matmul(scores.softmax(-1), vd);
}

// [B, 1, L, S] additive mask: causal (query i at position S - L + i) and `pad[b]` left-padding keys per row.
at::Tensor causal_padding_mask(int64_t b, int64_t l, int64_t s, const std::vector<int64_t>& pad) {
  const float lowest = std::numeric_limits<float>::lowest();
  at::Tensor m = at::zeros({b, 1, l, s});
  auto a = m.accessor<float, 4>();
  for (int64_t r = 0; r < b; ++r)
    for (int64_t i = 0; i < l; ++i)
      for (int64_t j = 0; j < s; ++j)
        if (j > s - l + i || j < pad[r]) a[r][0][i][j] = lowest;
  return m;
}

struct Case {
  int64_t b, h, kv, l, s, d;
};

void check(const Case& c, bool with_mask) {
  at::manual_seed(c.l * 31 + c.s);
  // q as the decoder makes it (a [B, L, H, D] projection viewed as [B, H, L, D]); k, v as KV-cache views.
  const at::Tensor q = at::randn({c.b, c.l, c.h, c.d}).transpose(1, 2);
  const at::Tensor cache = at::randn({2, c.b, c.kv, c.s + 9, c.d});
  const at::Tensor k = cache[0].narrow(2, 0, c.s), v = cache[1].narrow(2, 0, c.s);
  std::vector<int64_t> pad(c.b, 0);
  pad[0] = std::min<int64_t>(3, c.s - 1);
  const at::Tensor mask = with_mask ? causal_padding_mask(c.b, c.l, c.s, pad) : at::Tensor();
  at::NoGradGuard no_grad;
  ASSERT_TRUE(blas_attention_applies(q, k, v, mask));
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
  const at::Tensor got = blas_attention(q, k, v, mask, scale);
  ASSERT_EQ(got.sizes(), q.sizes());
  const at::Tensor want = reference(q, k, v, mask, scale);
  EXPECT_LT((got.to(at::kDouble) - want).abs().max().item<double>(), 2e-5)
      << "B " << c.b << " H " << c.h << " KV " << c.kv << " L " << c.l << " S " << c.s << " mask " << with_mask;
  // The [B, L, H * D] view the decoder's o_proj reads costs no copy.
  EXPECT_TRUE(got.transpose(1, 2).is_contiguous());
}

TEST(BlasAttention, MatchesFloat64SoftmaxAttention) {
  if (!blas_kernels_available()) GTEST_SKIP() << "this LibTorch's BLAS is not OpenBLAS (or it has MKL)";
  configure_cpu_threads();
  for (const Case& c :
       std::vector<Case>{{2, 4, 2, 9, 9, 16},    // prompt pass, grouped-query heads, small (per-row softmax)
                         {2, 4, 4, 70, 70, 8},   // prompt pass large enough for at::softmax
                         {3, 6, 3, 1, 40, 16},   // one token per sequence (matrix-vector products)
                         {4, 8, 8, 1, 300, 16},  // one token, a thread's block large enough for at::softmax
                         {1, 2, 1, 5, 12, 4}})   // queries after a cached past (S > L)
    for (const bool with_mask : {true, false}) check(c, with_mask);
}

// A query whose keys are all masked (a padding position) gets the mean of the values, as at::softmax gives
// for a row of equal scores, not NaN.
TEST(BlasAttention, FullyMaskedRowsAverageTheValues) {
  if (!blas_kernels_available()) GTEST_SKIP() << "this LibTorch's BLAS is not OpenBLAS (or it has MKL)";
  at::NoGradGuard no_grad;
  const at::Tensor q = at::randn({1, 2, 3, 8}), k = at::randn({1, 2, 5, 8}), v = at::randn({1, 2, 5, 8});
  at::Tensor mask = at::zeros({1, 1, 3, 5});
  mask[0][0][1].fill_(std::numeric_limits<float>::lowest());
  const at::Tensor got = blas_attention(q, k, v, mask, 0.5);
  EXPECT_TRUE(at::isfinite(got).all().item<bool>());
  EXPECT_LT((got[0].select(1, 1) - v[0].mean(1)).abs().max().item<double>(), 1e-5);
}

TEST(BlasAttention, LeavesAutogradOtherDtypesAndOddShapesToTheCaller) {
  const at::Tensor q = at::randn({1, 4, 3, 8}), k = at::randn({1, 2, 5, 8}), v = at::randn({1, 2, 5, 8});
  {
    at::NoGradGuard no_grad;
    EXPECT_FALSE(blas_attention_applies(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble), {}));
    EXPECT_FALSE(blas_attention_applies(q, at::randn({1, 3, 5, 8}), at::randn({1, 3, 5, 8}), {}));  // 4 % 3
    EXPECT_FALSE(blas_attention_applies(q, k, v, at::zeros({1, 1, 4, 5})));  // mask rows != queries
    EXPECT_FALSE(blas_attention_applies(q.transpose(2, 3), k, v, {}));       // D not unit-strided
  }
  EXPECT_FALSE(blas_attention_applies(q, k, v, {}));  // grad mode on: autograd needs ATen's ops
}

}  // namespace
}  // namespace mvb::nn
