// SigLIP (HF format) on the tiny fixture, checked against scripts/reference/siglip_reference.py: a
// PROVISIONAL oracle (python3-torch port of transformers' modeling_siglip.py; its pooling head runs
// torch.nn.MultiheadAttention itself).
#include <gtest/gtest.h>

#include "contrastive_test_support.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

TEST(SiglipModel, MatchesProvisionalReference) {
  const std::string dir = fixture_path("models/tiny-siglip");
  auto model = load_contrastive("SigLIP", dir);
  ASSERT_TRUE(model);
  at::manual_seed(3);
  at::Tensor ids = at::tensor({5L, 9L, 12L, 1L, 7L, 3L, 1L, 0L}, at::kLong).view({2, 4});
  std::map<std::string, at::Tensor> in = {{"pixel_values", at::randn({2, 3, 32, 32})}, {"input_ids", ids}};
  auto ref = run_reference("siglip_reference.py", dir, in);
  ASSERT_FALSE(ref.empty());
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(in["pixel_values"]);
  at::Tensor txt = model->text_features(TextBatch{ids, at::ones_like(ids)});
  EXPECT_LT(max_abs_diff(img, ref["image_embeds"]), 1e-4) << "image embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(txt, ref["text_embeds"]), 1e-4) << "text embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(model->logits_per_image(img, txt), ref["logits_per_image"]), 1e-3);
  EXPECT_TRUE(model->sigmoid_logits());
  EXPECT_NEAR(model->logit_bias(), -10.0, 1e-6);
  EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-3);
}

TEST(SiglipModel, TokenisesWithTheSentencePieceModelAndEncodes) {
  auto model = load_contrastive("MedSigLIP", fixture_path("models/tiny-siglip"));
  ASSERT_TRUE(model);
  TextBatch b = model->tokenize({"a photo of benign fundus", "a photo of glaucoma fundus"});
  EXPECT_EQ(b.input_ids.size(0), 2);
  at::Tensor t = model->encode_text({"a photo of benign fundus", "a photo of glaucoma fundus"});
  EXPECT_EQ(t.size(1), 16);
  EXPECT_EQ(model->transform().resize_mode, "exact");  // SiglipImageProcessor squashes, no crop
}

}  // namespace
}  // namespace mvb::test
