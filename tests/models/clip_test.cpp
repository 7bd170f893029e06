// CLIP (HF format) on the tiny fixtures of scripts/make_model_fixtures.py, checked against
// scripts/reference/clip_reference.py: a PROVISIONAL oracle (python3-torch port of transformers'
// modeling_clip.py, run on this CPU machine because transformers is not installable here).
#include <gtest/gtest.h>

#include "contrastive_test_support.h"
#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::map<std::string, at::Tensor> clip_inputs(const std::string& dir) {
  at::manual_seed(7);
  const auto cfg = nlohmann::json::parse(read_text(dir + "/config.json"))["text_config"];
  const int64_t bos = cfg["bos_token_id"], eos = cfg["eos_token_id"];
  // Token ids with padding in the second row, each ending in the fixture's <|endoftext|>.
  at::Tensor ids =
      at::tensor({bos, 80L, 81L, 82L, 83L, eos, eos, bos, 90L, 91L, eos, eos, eos, eos}, at::kLong).view({2, 7});
  at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0}, at::kLong).view({2, 7});
  return {{"pixel_values", at::randn({3, 3, 32, 32})}, {"input_ids", ids}, {"attention_mask", mask}};
}

void expect_parity(const std::string& dir) {
  auto model = load_contrastive("CLIP", dir);
  ASSERT_TRUE(model);
  auto in = clip_inputs(dir);
  auto ref = run_reference("clip_reference.py", dir, in);
  ASSERT_FALSE(ref.empty());
  at::NoGradGuard no_grad;
  at::Tensor img = model->encode_image(in["pixel_values"]);
  at::Tensor txt = model->text_features(TextBatch{in["input_ids"], in["attention_mask"]});
  EXPECT_LT(max_abs_diff(img, ref["image_embeds"]), 1e-4) << "image embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(txt, ref["text_embeds"]), 1e-4) << "text embeddings vs provisional oracle";
  EXPECT_LT(max_abs_diff(model->logits_per_image(img, txt), ref["logits_per_image"]), 1e-3);
  // A real check, not a tautology: the outputs vary across inputs.
  EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-3);
}

TEST(ClipModel, SafetensorsMatchesProvisionalReference) { expect_parity(fixture_path("models/tiny-clip")); }

TEST(ClipModel, TorchBinMatchesProvisionalReference) { expect_parity(fixture_path("models/tiny-clip-bin")); }

TEST(ClipModel, ReadsSizesFromConfig) {
  auto model = load_contrastive("PubMedCLIP", fixture_path("models/tiny-clip"));
  ASSERT_TRUE(model);
  EXPECT_EQ(model->embed_dim(), 12);
  EXPECT_EQ(model->transform().crop, 32);
  EXPECT_NEAR(model->logit_scale(), std::exp(2.6592), 1e-3);
  EXPECT_EQ(model->fingerprint().size(), 16u);
}

TEST(ClipModel, EncodeTextUsesTheCheckpointTokenizer) {
  auto model = load_contrastive("CLIP", fixture_path("models/tiny-clip"));
  ASSERT_TRUE(model);
  TextBatch b = model->tokenize({"a photo of x", "a photo of chest xray"});
  ASSERT_EQ(b.input_ids.size(0), 2);
  // <|startoftext|> ... <|endoftext|>, padded to the longer text.
  const auto cfg = nlohmann::json::parse(read_text(fixture_path("models/tiny-clip/config.json")))["text_config"];
  EXPECT_EQ(b.input_ids[0][0].item<int64_t>(), cfg["bos_token_id"].get<int64_t>());
  EXPECT_EQ(b.attention_mask[1].sum().item<int64_t>(), b.input_ids.size(1));
  at::Tensor t = model->encode_text({"a photo of x", "a photo of chest xray"});
  EXPECT_EQ(t.size(1), 12);
  // Padding never changes a text's embedding (causal attention + mask).
  at::Tensor alone = model->encode_text({"a photo of x"});
  EXPECT_LT(max_abs_diff(alone[0], t[0]), 1e-5);
}

TEST(ClipModel, MissingTensorIsAClearError) {
  TempDir tmp;
  const std::string src = fixture_path("models/tiny-clip");
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    write_text(tmp / f, read_text(src + "/" + f));
  // A config that asks for one more layer than the weights hold.
  std::string cfg = read_text(src + "/config.json");
  write_text(tmp / "config.json", cfg);
  write_text(tmp / "model.safetensors", read_text(src + "/model.safetensors"));
  auto j = nlohmann::json::parse(cfg);
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
