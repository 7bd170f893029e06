// CLIP (HF format; also PLIP and PubMedCLIP, which are CLIPModel checkpoints) against transformers:
// tests/fixtures/models/tiny-clip (model.safetensors) and tiny-clip-bin (pytorch_model.bin) were
// written and run by transformers' CLIPModel, CLIPTokenizer and CLIPImageProcessor
// (tests/oracles/models/make_hf_clip_fixtures.py), which saved the token ids, pixels, features and
// logits in expected.safetensors. Checked here: each stage alone on the library's inputs, and the whole
// path file -> our decoder and processor -> our model against the library.
#include <gtest/gtest.h>

#include <cmath>

#include "contrastive_test_support.h"
#include "hf_parity_test_support.h"
#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

constexpr double kFeatureTol = 1e-4;  // fp32 features
constexpr double kLogitTol = 1e-3;    // logits are features x exp(logit_scale) = 14.3
constexpr double kPixelTol = 1e-5;

struct Case {
  const char* model;  // registered name: all three load a CLIPModel checkpoint
  const char* dir;
};

class ClipParity : public ::testing::TestWithParam<Case> {
 protected:
  std::string dir() const { return fixture_path(GetParam().dir); }
  std::string tag(const std::string& what) const {
    return std::string(GetParam().model) + " " + GetParam().dir + " " + what;
  }
};

TEST_P(ClipParity, FeaturesAndLogitsMatchTransformers) {
  auto model = load_contrastive(GetParam().model, dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(e.input("pixel_values"));
  at::Tensor txt = model->text_features(TextBatch{e.input("input_ids"), e.input("attention_mask")});
  EXPECT_LT(report_diff(tag("image_embeds"), img, e.output("image_embeds")), kFeatureTol);
  EXPECT_LT(report_diff(tag("text_embeds"), txt, e.output("text_embeds")), kFeatureTol);
  EXPECT_LT(report_diff(tag("logits_per_image"), model->logits_per_image(img, txt), e.output("logits_per_image")),
            kLogitTol);
  // Not a tautology: the features differ across images and across texts.
  EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-2);
  EXPECT_GT((txt[0] - txt[1]).abs().max().item<double>(), 1e-2);
}

TEST_P(ClipParity, TokenIdsMatchTransformers) {
  auto model = load_contrastive(GetParam().model, dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  const ParityInputs in = read_parity_inputs(dir());
  TextBatch b = model->tokenize(in.texts);
  ASSERT_EQ(b.input_ids.sizes(), e.input("input_ids").sizes());
  for (size_t i = 0; i < in.texts.size(); ++i) {
    EXPECT_TRUE(at::equal(b.input_ids[i], e.input("input_ids")[i]))
        << "text " << i << " '" << in.texts[i] << "'\n ours " << b.input_ids[i] << "\n transformers "
        << e.input("input_ids")[i];
    EXPECT_TRUE(at::equal(b.attention_mask[i], e.input("attention_mask")[i])) << "text " << i;
  }
}

TEST_P(ClipParity, PixelsFromImageFilesMatchTransformers) {
  auto model = load_contrastive(GetParam().model, dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  const ParityInputs in = read_parity_inputs(dir());
  at::Tensor px = our_pixels(in.images, model->transform());
  EXPECT_LT(report_diff(tag("pixel_values"), px, e.input("pixel_values")), kPixelTol);
}

// The whole path as a run takes it: image files and class texts in, features out.
TEST_P(ClipParity, EndToEndFromFilesAndTextsMatchesTransformers) {
  auto model = load_contrastive(GetParam().model, dir());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(dir());
  const ParityInputs in = read_parity_inputs(dir());
  at::Tensor img = model->encode_image(our_pixels(in.images, model->transform()));
  at::Tensor txt = model->encode_text(in.texts);
  EXPECT_LT(report_diff(tag("end-to-end image_embeds"), img, e.output("image_embeds")), kFeatureTol);
  EXPECT_LT(report_diff(tag("end-to-end text_embeds"), txt, e.output("text_embeds")), kFeatureTol);
}

INSTANTIATE_TEST_SUITE_P(Hf, ClipParity,
                         ::testing::Values(Case{"CLIP", "models/tiny-clip"}, Case{"CLIP", "models/tiny-clip-bin"},
                                           Case{"PLIP", "models/tiny-clip-bin"},
                                           Case{"PubMedCLIP", "models/tiny-clip"}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.model) +
                                  (std::string(i.param.dir).find("-bin") != std::string::npos ? "Bin" : "Safetensors");
                         });

// Both tokenizer files a CLIP folder ships give transformers' ids: tokenizer.json (what load_tokenizer
// prefers) and vocab.json + merges.txt (folders without tokenizer.json).
TEST(ClipModel, VocabAndMergesTokenizerMatchesTransformers) {
  const std::string dir = fixture_path("models/tiny-clip");
  const ExpectedOutputs e = read_expected(dir);
  const ParityInputs in = read_parity_inputs(dir);
  auto bpe = text::load_clip_bpe(dir + "/vocab.json", dir + "/merges.txt", dir);
  TextBatch b = tokenize_batch(*bpe, in.texts, 77);
  EXPECT_TRUE(at::equal(b.input_ids, e.input("input_ids"))) << b.input_ids << "\n" << e.input("input_ids");
  EXPECT_TRUE(at::equal(b.attention_mask, e.input("attention_mask")));
  EXPECT_EQ(text::load_tokenizer(dir)->kind(), "tokenizer.json");
}

// Configs written before transformers PR #24773 (openai/clip-*, vinid/plip) say eos_token_id=2, and
// transformers then pools the text at the largest id instead of the first eos_token_id: the fixture's
// end-of-text is its largest id, so such a config must give the library's features unchanged.
TEST(ClipModel, LegacyEosTokenIdTwoPoolsAtTheLargestIdAsTransformers) {
  TempDir tmp;
  const std::string src = fixture_path("models/tiny-clip");
  copy_non_weight_files(src, tmp.path());
  write_text(tmp / "model.safetensors", read_text(src + "/model.safetensors"));
  auto j = nlohmann::json::parse(read_text(src + "/config.json"));
  j["text_config"]["eos_token_id"] = 2;
  write_text(tmp / "config.json", j.dump());
  auto model = load_contrastive("CLIP", tmp.path());
  ASSERT_TRUE(model);
  const ExpectedOutputs e = read_expected(src);
  at::NoGradGuard no_grad;
  at::Tensor txt = model->text_features(TextBatch{e.input("input_ids"), e.input("attention_mask")});
  EXPECT_LT(report_diff("CLIP eos_token_id=2 text_embeds", txt, e.output("text_embeds")), kFeatureTol);
}

TEST(ClipModel, ReadsSizesFromConfig) {
  auto model = load_contrastive("PubMedCLIP", fixture_path("models/tiny-clip"));
  ASSERT_TRUE(model);
  EXPECT_EQ(model->embed_dim(), 12);
  EXPECT_EQ(model->transform().crop, 32);
  EXPECT_NEAR(model->logit_scale(), std::exp(2.6592), 1e-3);
  EXPECT_EQ(model->fingerprint().size(), 16u);
}

TEST(ClipModel, PaddingNeverChangesATextsEmbedding) {
  auto model = load_contrastive("CLIP", fixture_path("models/tiny-clip"));
  ASSERT_TRUE(model);
  at::Tensor t = model->encode_text({"a photo of x", "a photo of chest xray"});
  EXPECT_EQ(t.size(1), 12);
  at::Tensor alone = model->encode_text({"a photo of x"});  // causal attention + mask
  EXPECT_LT(max_abs_diff(alone[0], t[0]), 1e-5);
}

TEST(ClipModel, MissingTensorIsAClearError) {
  TempDir tmp;
  const std::string src = fixture_path("models/tiny-clip");
  copy_non_weight_files(src, tmp.path());
  write_text(tmp / "model.safetensors", read_text(src + "/model.safetensors"));
  // A config that asks for one more layer than the weights hold.
  auto j = nlohmann::json::parse(read_text(src + "/config.json"));
  j["vision_config"]["num_hidden_layers"] = 3;
  write_text(tmp / "config.json", j.dump());
  try {
    load_contrastive("CLIP", tmp.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing: vision_model.encoder.layers.2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::test
