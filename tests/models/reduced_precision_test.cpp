// Reduced precision (issue #7: fp32 on CPU, fp16/bf16 on CUDA): every contrastive tower honours
// ModelSpec::dtype. CPU LibTorch runs bf16 (oneDNN), so the bf16 path — weights cast on load, pixels
// cast on entry, fp32 softmax, float32 features out — is checked here against the fp32 model.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "contrastive_test_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/models/model.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

// Row-wise cosine similarity of two [N, D] feature sets.
at::Tensor row_cosine(const at::Tensor& a, const at::Tensor& b) {
  return (a * b).sum(-1) / (a.norm(2, -1) * b.norm(2, -1));
}

struct Case {
  const char* model;
  const char* dir;
};

class Bf16Towers : public ::testing::TestWithParam<Case> {};

TEST_P(Bf16Towers, WeightsAreBf16AndFeaturesAgreeWithFp32) {
  const Case c = GetParam();
  auto half = load_contrastive(c.model, fixture_path(c.dir), "bf16");
  auto full = load_contrastive(c.model, fixture_path(c.dir), "fp32");
  ASSERT_TRUE(half && full);
  // The dtype is not ignored: every floating weight of the bf16 model is bf16 (and fp32 in the other).
  EXPECT_EQ(half->dtype(), at::kBFloat16);
  int64_t params = 0;
  for (const auto& p : half->root().named_parameters(true)) {
    EXPECT_EQ(p.value().scalar_type(), at::kBFloat16) << c.model << " " << p.key();
    ++params;
  }
  ASSERT_GT(params, 0);
  for (const auto& p : full->root().parameters()) ASSERT_EQ(p.scalar_type(), at::kFloat);

  const int size = transform_output_size(full->transform());
  at::manual_seed(3);
  at::Tensor px = at::randn({3, 3, size, size});
  at::Tensor hi = half->encode_image(px), fi = full->encode_image(px);
  const std::vector<std::string> texts = {"a photo of chest xray", "no finding", "pneumonia in the left lung"};
  at::Tensor ht = half->encode_text(texts), ft = full->encode_text(texts);
  // Features come back as float32 for scoring, whatever the compute dtype.
  EXPECT_EQ(hi.scalar_type(), at::kFloat);
  EXPECT_EQ(ht.scalar_type(), at::kFloat);
  ASSERT_EQ(hi.sizes(), fi.sizes());
  ASSERT_EQ(ht.sizes(), ft.sizes());
  EXPECT_GT(row_cosine(hi, fi).min().item<double>(), 0.99) << c.model << " image features";
  EXPECT_GT(row_cosine(ht, ft).min().item<double>(), 0.99) << c.model << " text features";
  // ... and were computed in bf16: not bit-identical to the fp32 run.
  EXPECT_GT(max_abs_diff(hi, fi), 0.0);
  // Scores from bf16 features stay finite and close (softmax over classes, as clip-zs does).
  at::Tensor hp = half->logits_per_image(hi, ht).softmax(-1), fp = full->logits_per_image(fi, ft).softmax(-1);
  EXPECT_TRUE(at::isfinite(hp).all().item<bool>());
  EXPECT_LT(max_abs_diff(hp, fp), 0.05) << c.model;
}

INSTANTIATE_TEST_SUITE_P(Contrastive, Bf16Towers,
                         ::testing::Values(Case{"CLIP", "models/tiny-clip"}, Case{"SigLIP", "models/tiny-siglip"},
                                           Case{"BioMedCLIP", "models/tiny-biomedclip"},
                                           Case{"PMCCLIP", "models/tiny-pmcclip"}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string n = i.param.model;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

TEST(ReducedPrecision, UnknownDtypeIsAUsageError) {
  EXPECT_THROW(load_contrastive("CLIP", fixture_path("models/tiny-clip"), "fp8"), UsageError);
}

TEST(ReducedPrecision, Fp16OnCpuIsRefusedWithTheAlternatives) {
  try {
    load_contrastive("SigLIP", fixture_path("models/tiny-siglip"), "fp16");
    ADD_FAILURE() << "fp16 on CPU was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::test
