// BioMedCLIP (open_clip layout, torch.save checkpoint) on the tiny fixture, checked against
// scripts/reference/biomedclip_reference.py: a PROVISIONAL oracle (python3-torch port of timm's ViT,
// open_clip's TimmModel/HFTextEncoder and transformers' BERT).
#include <gtest/gtest.h>

#include "contrastive_test_support.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

TEST(BiomedClipModel, MatchesProvisionalReference) {
  const std::string dir = fixture_path("models/tiny-biomedclip");
  auto model = load_contrastive("BioMedCLIP", dir);
  ASSERT_TRUE(model);
  at::manual_seed(4);
  // [CLS] a photo of chest [SEP] [PAD] / [CLS] benign fundus [SEP] [PAD] [PAD] [PAD]
  at::Tensor ids = at::tensor({2L, 5L, 6L, 7L, 8L, 3L, 0L, 2L, 14L, 15L, 3L, 0L, 0L, 0L}, at::kLong).view({2, 7});
  std::map<std::string, at::Tensor> in = {{"pixel_values", at::randn({2, 3, 32, 32})}, {"input_ids", ids}};
  auto ref = run_reference("biomedclip_reference.py", dir, in);
  ASSERT_FALSE(ref.empty());
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(in["pixel_values"]);
  at::Tensor txt = model->text_features(TextBatch{ids, (ids != 0).to(at::kLong)});
  EXPECT_LT(max_abs_diff(img, ref["image_embeds"]), 1e-4) << "image embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(txt, ref["text_embeds"]), 1e-4) << "text embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(model->logits_per_image(img, txt), ref["logits_per_image"]), 1e-3);
  EXPECT_GT((txt[0] - txt[1]).abs().max().item<double>(), 1e-3);
}

TEST(BiomedClipModel, EncodesTextThroughTheWordPieceVocabulary) {
  auto model = load_contrastive("BioMedCLIP", fixture_path("models/tiny-biomedclip"));
  ASSERT_TRUE(model);
  TextBatch b = model->tokenize({"a photo of chest xray", "a photo of benign fundus"});
  EXPECT_EQ(b.input_ids[0][0].item<int64_t>(), 2);  // [CLS]
  EXPECT_EQ(b.input_ids[0][1].item<int64_t>(), 5);  // "a"
  at::Tensor t = model->encode_text({"a photo of chest xray"});
  EXPECT_EQ(t.size(1), 12);
  EXPECT_EQ(model->transform().crop_rounding, "round");
}

}  // namespace
}  // namespace mvb::test
