// BioMedCLIP (open_clip layout, torch.save checkpoint) on the tiny fixture, checked against open_clip
// itself: expected.safetensors holds what open_clip.create_model_from_pretrained("local-dir:<fixture>")
// (timm's VisionTransformer + transformers' BERT), its preprocess and get_tokenizer computed, written by
// tests/oracles/models/make_biomedclip_fixture.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "contrastive_test_support.h"
#include "medvlmbench/vision/image.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

const char* kDir = "models/tiny-biomedclip";

TEST(BiomedClipModel, MatchesOpenClip) {
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("BioMedCLIP", dir);
  ASSERT_TRUE(model);
  const ExpectedOutputs ref = read_expected(dir);
  // [CLS] a photo of chest [SEP] [PAD] / [CLS] benign fundus [SEP] [PAD] [PAD] [PAD]
  const at::Tensor ids = ref.input("input_ids");
  ASSERT_TRUE(ids.defined());
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(ref.input("pixel_values"));
  at::Tensor txt = model->text_features(TextBatch{ids, (ids != 0).to(at::kLong)});
  const double d_img = max_abs_diff(img, ref.output("image_embeds"));
  const double d_txt = max_abs_diff(txt, ref.output("text_embeds"));
  const double d_logits = max_abs_diff(model->logits_per_image(img, txt), ref.output("logits_per_image"));
  EXPECT_LT(d_img, 1e-4) << "image embeddings";
  EXPECT_LT(d_txt, 1e-4) << "text embeddings";
  EXPECT_LT(d_logits, 1e-3) << "logits (scale 100)";
  EXPECT_GT((txt[0] - txt[1]).abs().max().item<double>(), 1e-3);
  std::cout << "[ parity   ] BioMedCLIP vs open_clip: max |diff| " << std::max({d_img, d_txt, d_logits / 100})
            << " (logits / 100)\n";
}

TEST(BiomedClipModel, TokenisesAndPreprocessesAsOpenClip) {
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("BioMedCLIP", dir);
  ASSERT_TRUE(model);
  const ExpectedOutputs ref = read_expected(dir);
  // open_clip's HFTokenizer pads to context_length; we pad to the longest text, which BERT's mask makes
  // equivalent: the ids agree up to our length and open_clip's rest is [PAD].
  TextBatch b = model->tokenize({"a photo of chest xray", "a photo of benign fundus", "pneumonia"});
  const at::Tensor want = ref.input("tok_input_ids");
  ASSERT_EQ(want.size(0), b.input_ids.size(0));
  ASSERT_LE(b.input_ids.size(1), want.size(1));
  const int64_t len = b.input_ids.size(1);
  EXPECT_TRUE(b.input_ids.equal(want.slice(1, 0, len))) << b.input_ids << want.slice(1, 0, len);
  EXPECT_TRUE(want.slice(1, len).eq(0).all().item<bool>());
  at::NoGradGuard no_grad;
  EXPECT_LT(max_abs_diff(model->text_features(b), ref.output("tok_text_embeds")), 1e-4);
  EXPECT_EQ(model->transform().crop_rounding, "round");
  // open_clip's preprocess (Resize shortest edge bicubic, CenterCrop, RGB, ToTensor, Normalize) on a
  // grayscale image scaled up and an RGB one scaled down, then the image tower on its output.
  expect_preprocessing_parity(*model, ref, "preprocessed_image_embeds_");
}

}  // namespace
}  // namespace mvb::test
