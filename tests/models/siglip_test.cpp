// SigLIP (HF format; MedSigLIP is the same SiglipModel layout) against transformers:
// tests/fixtures/models/tiny-siglip was written and run by transformers' SiglipModel, SiglipTokenizer
// and SiglipImageProcessor (tests/oracles/models/make_hf_clip_fixtures.py), which saved the token ids,
// pixels, features and logits in expected.safetensors. Text goes in without an attention mask, as the
// reference (MedSigLIPForDiagnosis) calls the model.
#include <gtest/gtest.h>

#include "contrastive_test_support.h"
#include "hf_parity_test_support.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

constexpr double kFeatureTol = 1e-4;
constexpr double kLogitTol = 1e-3;
constexpr double kPixelTol = 1e-5;

class SiglipParity : public ::testing::TestWithParam<const char*> {
 protected:
  std::string dir() const { return fixture_path("models/tiny-siglip"); }
  std::string tag(const std::string& what) const { return std::string(GetParam()) + " " + what; }
};

TEST_P(SiglipParity, FeaturesAndLogitsMatchTransformers) {
  auto model = load_contrastive(GetParam(), dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  at::NoGradGuard no_grad;
  at::Tensor ids = e.input("input_ids");
  at::Tensor img = model->encode_image(e.input("pixel_values"));
  at::Tensor txt = model->text_features(TextBatch{ids, at::ones_like(ids)});
  EXPECT_LT(report_diff(tag("image_embeds"), img, e.output("image_embeds")), kFeatureTol);
  EXPECT_LT(report_diff(tag("text_embeds"), txt, e.output("text_embeds")), kFeatureTol);
  EXPECT_LT(report_diff(tag("logits_per_image"), model->logits_per_image(img, txt), e.output("logits_per_image")),
            kLogitTol);
  EXPECT_TRUE(model->sigmoid_logits());
  EXPECT_NEAR(model->logit_bias(), -10.0, 1e-6);
  EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-2);
  EXPECT_GT((txt[0] - txt[1]).abs().max().item<double>(), 1e-2);
}

TEST_P(SiglipParity, TokenIdsMatchTransformers) {
  auto model = load_contrastive(GetParam(), dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  const ParityInputs in = read_parity_inputs(dir());
  TextBatch b = model->tokenize(in.texts);
  ASSERT_EQ(b.input_ids.sizes(), e.input("input_ids").sizes()) << b.input_ids;
  for (size_t i = 0; i < in.texts.size(); ++i)
    EXPECT_TRUE(at::equal(b.input_ids[i], e.input("input_ids")[i]))
        << "text " << i << " '" << in.texts[i] << "'\n ours " << b.input_ids[i] << "\n transformers "
        << e.input("input_ids")[i];
}

TEST_P(SiglipParity, PixelsFromImageFilesMatchTransformers) {
  auto model = load_contrastive(GetParam(), dir());
  ASSERT_TRUE(model);
  EXPECT_EQ(model->transform().resize_mode, "exact");  // SiglipImageProcessor squashes, no crop
  const ExpectedOutputs e = read_expected(dir());
  at::Tensor px = our_pixels(read_parity_inputs(dir()).images, model->transform());
  EXPECT_LT(report_diff(tag("pixel_values"), px, e.input("pixel_values")), kPixelTol);
}

TEST_P(SiglipParity, EndToEndFromFilesAndTextsMatchesTransformers) {
  auto model = load_contrastive(GetParam(), dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  const ParityInputs in = read_parity_inputs(dir());
  at::Tensor img = model->encode_image(our_pixels(in.images, model->transform()));
  at::Tensor txt = model->encode_text(in.texts);
  EXPECT_LT(report_diff(tag("end-to-end image_embeds"), img, e.output("image_embeds")), kFeatureTol);
  EXPECT_LT(report_diff(tag("end-to-end text_embeds"), txt, e.output("text_embeds")), kFeatureTol);
}

INSTANTIATE_TEST_SUITE_P(Hf, SiglipParity, ::testing::Values("SigLIP", "MedSigLIP"));

// transformers has no fast SigLIP tokenizer: AutoTokenizer loads SiglipTokenizer from spiece.model even
// when the folder also ships a tokenizer.json, so a tokenizer.json beside it must not change the ids.
TEST(SiglipModel, SpieceModelWinsOverATokenizerJson) {
  TempDir tmp;
  const std::string src = fixture_path("models/tiny-siglip");
  copy_non_weight_files(src, tmp.path());
  write_text(tmp / "model.safetensors", read_text(src + "/model.safetensors"));
  write_text(tmp / "tokenizer.json", read_text(fixture_path("models/tiny-clip/tokenizer.json")));
  auto model = load_contrastive("MedSigLIP", tmp.path());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(src);
  TextBatch b = model->tokenize(read_parity_inputs(src).texts);
  EXPECT_TRUE(at::equal(b.input_ids, e.input("input_ids")));
}

}  // namespace
}  // namespace mvb::test
