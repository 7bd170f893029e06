// PMC-CLIP (the reference's .pth folder) on the tiny fixture, checked against
// scripts/reference/pmcclip_reference.py: a PROVISIONAL oracle (python3-torch port of the reference's
// own model/pmcclip.py, whose attention pool runs F.multi_head_attention_forward, plus BERT).
#include <gtest/gtest.h>

#include "contrastive_test_support.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

TEST(PmcClipModel, MatchesProvisionalReference) {
  const std::string dir = fixture_path("models/tiny-pmcclip");
  auto model = load_contrastive("PMCCLIP", dir);
  ASSERT_TRUE(model);
  at::manual_seed(5);
  at::Tensor ids = at::tensor({2L, 5L, 6L, 7L, 8L, 3L, 2L, 14L, 15L, 3L, 0L, 0L}, at::kLong).view({2, 6});
  at::Tensor mask = (ids != 0).to(at::kLong);
  std::map<std::string, at::Tensor> in = {
      {"pixel_values", at::randn({2, 3, 64, 64})}, {"input_ids", ids}, {"attention_mask", mask}};
  auto ref = run_reference("pmcclip_reference.py", dir, in);
  ASSERT_FALSE(ref.empty());
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(in["pixel_values"]);
  at::Tensor txt = model->text_features(TextBatch{ids, mask});
  EXPECT_LT(max_abs_diff(img, ref["image_embeds"]), 1e-4) << "image embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(txt, ref["text_embeds"]), 1e-4) << "text embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(model->logits_per_image(img, txt), ref["logits_per_image"]), 1e-3);
  EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(model->transform().crop, 64);
}

}  // namespace
}  // namespace mvb::test
