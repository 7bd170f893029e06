// PMC-CLIP (the reference's .pth folder) on the tiny fixture, checked against the published code
// itself: expected.safetensors holds what ubc-tea/MedVLMBench model/pmcclip.py (ModifiedResNet with
// its F.multi_head_attention_forward attention pool, transformers' BERT, PMCCLIPForDiagnosis.encode_text
// and image_transform) computed, written by tests/oracles/models/make_pmcclip_fixture.py from a
// checkout of that repository (fixture.json names its commit).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "contrastive_test_support.h"
#include "medvlmbench/vision/image.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

const char* kDir = "models/tiny-pmcclip";

TEST(PmcClipModel, MatchesThePublishedPmcClipCode) {
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("PMCCLIP", dir);
  ASSERT_TRUE(model);
  const ExpectedOutputs ref = read_expected(dir);
  const at::Tensor ids = ref.input("input_ids"), mask = ref.input("attention_mask");
  ASSERT_TRUE(ids.defined() && mask.defined());
  // The reference's own tokenizer call (padding=True, truncation, max_length 512) gave these ids.
  TextBatch b = model->tokenize({"a photo of chest xray", "benign fundus", "pneumonia"});
  EXPECT_TRUE(b.input_ids.equal(ids)) << b.input_ids << ids;
  EXPECT_TRUE(b.attention_mask.equal(mask));
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(ref.input("pixel_values"));
  at::Tensor txt = model->text_features(TextBatch{ids, mask});
  const double d_img = max_abs_diff(img, ref.output("image_embeds"));
  const double d_txt = max_abs_diff(txt, ref.output("text_embeds"));
  const double d_logits = max_abs_diff(model->logits_per_image(img, txt), ref.output("logits_per_image"));
  EXPECT_LT(d_img, 1e-4) << "image embeddings";
  EXPECT_LT(d_txt, 1e-4) << "text embeddings";
  EXPECT_LT(d_logits, 1e-3) << "logits (scale exp(4.4292) = 84)";
  EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(model->transform().crop, 64);
  // image_transform (Resize shortest edge bicubic, CenterCrop, RGB, ToTensor, Normalize) on a grayscale
  // image scaled up and an RGB one scaled down, then the image tower on its output.
  const double d_pre = expect_preprocessing_parity(*model, ref, "preprocessed_image_embeds_");
  std::cout << "[ parity   ] PMC-CLIP vs MedVLMBench model/pmcclip.py: max |diff| "
            << std::max({d_img, d_txt, d_logits / 84}) << " (logits / 84); preprocessing " << d_pre << "\n";
}

}  // namespace
}  // namespace mvb::test
