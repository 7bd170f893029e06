// MedCLIP-ViT (the release's pytorch_model.bin + Swin/BERT configs) on the tiny fixture, checked against
// the published MedCLIP code itself: expected.safetensors holds what medclip==0.0.3's MedCLIPModel
// (over transformers' SwinModel and BertModel) and MedVLMBench's MedCLIPFeatureExtractor computed,
// written by tests/oracles/models/make_medclip_fixture.py (fixture.json says how it ran them). The
// fixture's Swin pads every stage's map to its window, shifts windows and merges an odd-sized map; the
// 53-pixel input adds the patch embedding's own padding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "contrastive_test_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/vision/image.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

const char* kDir = "models/tiny-medclip";

TEST(MedClipModel, MatchesThePublishedMedClipCode) {
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("MedCLIP", dir);
  ASSERT_TRUE(model);
  const ExpectedOutputs ref = read_expected(dir);
  // Padded rows: MedCLIP's text pooling averages every position, padding included.
  const at::Tensor ids = ref.input("input_ids"), mask = ref.input("attention_mask");
  ASSERT_TRUE(ids.defined() && mask.defined());
  at::NoGradGuard no_grad;
  const at::Tensor txt = model->text_features(TextBatch{ids, mask});
  double worst = max_abs_diff(txt, ref.output("text_embeds"));
  EXPECT_LT(worst, 1e-4) << "text embeddings";
  for (const char* side : {"52", "53"}) {
    SCOPED_TRACE(std::string("image side ") + side);
    const at::Tensor img = model->encode_image(ref.input(std::string("pixel_values_") + side));
    const double d_img = max_abs_diff(img, ref.output(std::string("img_embeds_") + side));
    const double d_logits = max_abs_diff(model->logits_per_image(img, txt), ref.output(std::string("logits_") + side));
    EXPECT_LT(d_img, 1e-4) << "image embeddings";
    EXPECT_LT(d_logits, 1e-3) << "logits (scale exp(4.6052) = 100)";
    EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-3);  // not a constant
    worst = std::max({worst, d_img, d_logits / 100});
  }
  // The fixture's 4.9 is clamped as MedCLIP's compute_logits does.
  EXPECT_NEAR(model->logit_scale(), std::exp(ref.output("logit_scale").item<double>()), 1e-3);
  EXPECT_NEAR(model->logit_scale(), std::exp(4.6052), 1e-6);
  EXPECT_EQ(model->embed_dim(), 12);
  std::cout << "[ parity   ] MedCLIP vs medclip==0.0.3: max |diff| " << worst << " (logits / 100)\n";
}

TEST(MedClipModel, TokensAndBertHiddenStatesMatchTransformers) {
  // Our tokenizer against the one MedCLIPProcessor builds (AutoTokenizer of the BERT folder), and the
  // shared BERT encoder's hidden_states() (what MedCLIP pools) against transformers' BertModel.
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("MedCLIP", dir);
  ASSERT_TRUE(model);
  const ExpectedOutputs ref = read_expected(dir);
  TextBatch b = model->tokenize({"a photo of chest xray", "pneumonia"});
  ASSERT_TRUE(b.input_ids.equal(ref.input("tok_input_ids"))) << b.input_ids << ref.input("tok_input_ids");
  ASSERT_TRUE(b.attention_mask.equal(ref.input("tok_attention_mask")));
  // named_modules() returns a temporary dict: keep it alive while the pointer into it is used (ASan
  // found a heap-use-after-free here).
  const auto modules = model->root().named_modules();
  auto* bert = modules.find("text_model.model");
  ASSERT_NE(bert, nullptr);
  auto enc = std::dynamic_pointer_cast<nn::BertEncoderImpl>(*bert);
  ASSERT_TRUE(enc);
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> hs = enc->hidden_states(b.input_ids, b.attention_mask);
  const at::Tensor want = ref.output("tok_hidden_states");
  ASSERT_EQ(static_cast<int64_t>(hs.size()), want.size(0));
  EXPECT_EQ(hs.size(), 4u);  // embeddings + 3 layers
  for (size_t i = 0; i < hs.size(); ++i)
    EXPECT_LT(max_abs_diff(hs[i], want[static_cast<int64_t>(i)]), 1e-4) << "hidden state " << i;
  EXPECT_LT(max_abs_diff(hs.back(), enc->forward(b.input_ids, b.attention_mask)), 1e-6);
  EXPECT_LT(max_abs_diff(model->text_features(b), ref.output("tok_text_embeds")), 1e-4);
}

TEST(MedClipModel, TokenisesLikeBioClinicalBertAndPadsTheBatch) {
  auto model = load_contrastive("MedCLIP", fixture_path(kDir));
  ASSERT_TRUE(model);
  // No tokenizer_config.json (as Bio_ClinicalBERT): lower-cased like AutoTokenizer's default.
  TextBatch b = model->tokenize({"A Photo", "chest xray with pneumonia"});
  ASSERT_EQ(b.input_ids.size(1), 6);                // [CLS] chest xray with pneumonia [SEP]: the longest row
  EXPECT_EQ(b.input_ids[0][0].item<int64_t>(), 2);  // [CLS]
  EXPECT_EQ(b.input_ids[0][3].item<int64_t>(), 3);  // [SEP]
  EXPECT_EQ(b.input_ids[0][4].item<int64_t>(), 0);  // [PAD]
  EXPECT_NE(b.input_ids[0][1].item<int64_t>(), 1);  // "a" found, not [UNK]: lower-cased
  // The padded length changes MedCLIP's text embedding (the reference pools padding too).
  at::Tensor alone = model->encode_text({"a photo"});
  at::Tensor batched = model->encode_text({"a photo", "chest xray with pneumonia"});
  EXPECT_GT((alone[0] - batched[0]).abs().max().item<double>(), 1e-5);
}

TEST(MedClipModel, PreprocessingIsTheReferenceFeatureExtractor) {
  auto model = load_contrastive("MedCLIP", fixture_path(kDir));
  ASSERT_TRUE(model);
  const ImageTransform& t = model->transform();
  EXPECT_TRUE(t.pad_to_square);
  EXPECT_EQ(t.resize, 52);  // swin_config.json's image_size (224 for the release)
  EXPECT_EQ(t.interpolation, "bilinear");
  EXPECT_FLOAT_EQ(t.mean[0], 0.0f);
  // ToTensor then * 0.5862785803043838, Normalize(mean 0, std 0.26862954 ...): a white pixel becomes
  EXPECT_NEAR(t.rescale_factor * 255.0 / t.std[0], 0.5862785803043838 / 0.26862954, 1e-6);
}

TEST(MedClipModel, PreprocessingMatchesTheBenchmarksFeatureExtractor) {
  // MedVLMBench model/medclip.py MedCLIPFeatureExtractor (torchvision on PIL: convert('RGB'), zero-pad to
  // a centred square, Resize (bilinear), CenterCrop, ToTensor, * rescale_factor, Normalize(mean 0, std))
  // on a grayscale image scaled up and an RGB one scaled down, then the image tower on its output.
  auto model = load_contrastive("MedCLIP", fixture_path(kDir));
  ASSERT_TRUE(model);
  const ExpectedOutputs ref = read_expected(fixture_path(kDir));
  at::NoGradGuard no_grad;
  expect_preprocessing_parity(*model, ref, "preprocessed_img_embeds_");
}

TEST(MedClipModel, Bf16TowersStayCloseToFp32) {
  // The reduced-precision path CUDA runs by default (masks, bias tables and LayerNorms in bf16), on CPU.
  ModelSpec spec;
  spec.model_path = fixture_path(kDir);
  spec.dtype = "bf16";
  auto half = model_registry().get("MedCLIP").factory(spec);
  auto* h = dynamic_cast<ContrastiveModel*>(half.get());
  ASSERT_NE(h, nullptr);
  auto full = load_contrastive("MedCLIP", fixture_path(kDir));
  at::manual_seed(2);
  at::Tensor px = at::randn({2, 3, 52, 52});
  EXPECT_LT(max_abs_diff(h->encode_image(px), full->encode_image(px)), 0.05);
  EXPECT_LT(max_abs_diff(h->encode_text({"a photo of chest xray"}), full->encode_text({"a photo of chest xray"})),
            0.05);
}

TEST(MedClipModel, MissingFilesNameTheFileAndTheFix) {
  const std::string src = fixture_path(kDir);
  for (const char* missing : {"swin_config.json", "config.json", "vocab.txt", "pytorch_model.bin"}) {
    TempDir tmp;
    for (const auto& e : std::filesystem::directory_iterator(src))
      if (e.path().filename() != missing) std::filesystem::copy(e.path(), tmp / e.path().filename().string());
    try {
      load_contrastive("MedCLIP", tmp.path());
      ADD_FAILURE() << "loaded without " << missing;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(missing), std::string::npos) << msg;
      EXPECT_NE(msg.find("models/README.md"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace mvb::test
