// XGenMiniV1 against the published xGen-MM code: the tiny checkpoint and outputs of
// tests/oracles/models/make_xgen_fixtures.py (tests/fixtures/models/xgen; LAVIS xgen-mm XGenMMPerceiver over
// transformers 4.53.1's SiglipVisionTransformer and Phi3ForCausalLM, the Blip3ImageProcessor remote code, the slow
// LlamaTokenizer). Two images of different aspect ratios (3 x 1 and 1 x 3 crops, both with unpadding masks): pixel
// values and prompt ids exactly, teacher-forced logits within 1e-4 (fp32), 32 greedy ids identical, and the decoded
// text as the slow tokenizer decodes it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/models/xgen/model.h"
#include "models/support/generative_fixtures.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string dir() { return fixture_path("models/xgen"); }

std::unique_ptr<xgen::XGenModel> load() {
  ModelSpec s;
  s.name = "XGenMiniV1";
  s.model_path = dir();
  s.dtype = "fp32";
  s.options = nlohmann::json::object();
  return std::make_unique<xgen::XGenModel>(s);
}

GenerationRequest request_for(const nlohmann::json& c) {
  GenerationRequest r;
  r.prompt = c.at("question").get<std::string>();
  r.images.push_back(ImageRef::file(io::join_path(dir(), c.at("image").get<std::string>())));
  return r;
}

TEST(XGenModel, PixelsPromptLogitsAndGreedyIdsMatchThePublishedCode) {
  const nlohmann::json fx = io::read_json(io::join_path(dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(dir());
  auto model = load();
  ASSERT_EQ(fx.at("cases").size(), 2u);
  double worst = 0;
  for (size_t i = 0; i < fx.at("cases").size(); ++i) {
    const auto& c = fx.at("cases")[i];
    const std::string k = std::to_string(i);
    SCOPED_TRACE(c.at("image").get<std::string>());
    GenerationRequest r = request_for(c);
    const auto in = model->process(r);
    EXPECT_EQ(in.prompt, c.at("prompt").get<std::string>());
    EXPECT_EQ(in.input_ids, ids_of(e.input(k + ".input_ids")));
    ASSERT_EQ(in.pixel_values.sizes(), e.input(k + ".pixel_values").sizes());
    EXPECT_EQ(max_abs_diff(in.pixel_values, e.input(k + ".pixel_values")), 0.0);
    const double d = max_abs_diff(model->forward_logits(in), e.output(k + ".logits"));
    std::cout << "[measured] xgen logits case " << i << ": max |ours - published| = " << d << "\n";
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4);
    r.max_new_tokens = 32;
    const auto ids = model->generate_ids({r}).at(0);
    EXPECT_EQ(ids, ids_of(e.output(k + ".generated_ids")));
    EXPECT_EQ(model->decode_skip_special(ids), c.at("decoded_skip_special").get<std::string>());
  }
  std::cout << "[measured] xgen logits: max |ours - published| = " << worst << "\n";
}

// Both cases as one left-padded batch (prompts of different lengths) give the ids each gets alone, and the runner's
// generate() returns the answers decoded as the model card decodes them.
TEST(XGenModel, LeftPaddedBatchEqualsOneByOne) {
  const nlohmann::json fx = io::read_json(io::join_path(dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(dir());
  auto model = load();
  std::vector<GenerationRequest> batch;
  for (const auto& c : fx.at("cases")) {
    batch.push_back(request_for(c));
    batch.back().max_new_tokens = 32;
  }
  const auto ids = model->generate_ids(batch);
  ASSERT_EQ(ids.size(), 2u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids_of(e.output(std::to_string(i) + ".generated_ids")));
  const auto out = model->generate(batch);
  ASSERT_EQ(out.size(), 2u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].error, "");
    std::string want = fx.at("cases")[i].at("answer").get<std::string>();
    want.erase(0, want.find_first_not_of(" \t\n\r"));
    want.erase(want.find_last_not_of(" \t\n\r") + 1);
    EXPECT_EQ(out[i].text, want);
  }
}

TEST(XGenModel, GenerationSettingsAndAnswerFollowTheModelCard) {
  auto model = load();
  GenerationRequest r;
  r.prompt = "q";
  const nn::GenerationConfig g = model->generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 768);
  EXPECT_FALSE(g.do_sample);
  EXPECT_EQ(model->end_token_id(), 327);  // <|end|>: 320 SentencePiece pieces + 7
  EXPECT_NE(std::find(g.eos_token_ids.begin(), g.eos_token_ids.end(), 327), g.eos_token_ids.end());
  // decode(skip_special_tokens).split("<|end|>")[0], stripped; <image> ids are skipped, <|end|> is not.
  const auto ids = model->encode_prompt(xgen::render_prompt("Is it round?"));
  std::vector<int64_t> answer(ids.end() - 8, ids.end());
  answer.push_back(model->media_token_id());
  answer.push_back(model->end_token_id());
  answer.push_back(ids[5]);
  const std::string text = model->decode_skip_special(answer);
  EXPECT_NE(text.find("<|end|>"), std::string::npos);
  const std::string a = model->decode_answer(answer);
  EXPECT_EQ(a.find("<|end|>"), std::string::npos);
  std::string want = text.substr(0, text.find("<|end|>"));
  want.erase(0, want.find_first_not_of(" \t\n\r"));
  want.erase(want.find_last_not_of(" \t\n\r") + 1);
  EXPECT_EQ(a, want);
  EXPECT_FALSE(a.empty());
  const nlohmann::json d = model->describe();
  EXPECT_EQ(d.at("model"), "XGenMiniV1");
  // A request holding no image, or a question holding <image>, is that request's error.
  GenerationRequest none;
  none.prompt = "q";
  EXPECT_THROW(model->process(none), Error);
  const nlohmann::json fx = io::read_json(io::join_path(dir(), "fixture.json"));
  GenerationRequest tag = request_for(fx.at("cases")[0]);
  tag.prompt = "what is <image>?";
  EXPECT_THROW(model->process(tag), Error);
}

TEST(XGenConfig, UnimplementedOptionsAreRefusedByName) {
  const nlohmann::json j = io::read_json(io::join_path(dir(), "config.json"));
  EXPECT_NO_THROW(xgen::Config::from_json(j, "config.json"));
  auto refused = [&](nlohmann::json bad, const std::string& key) {
    try {
      xgen::Config::from_json(bad, "config.json");
      ADD_FAILURE() << key << " was accepted";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(key), std::string::npos) << err.what();
    }
  };
  nlohmann::json b = j;
  b["text_config"]["rope_scaling"] = {{"type", "longrope"}};
  refused(b, "rope_scaling");
  b = j;
  b["vision_encoder_config"]["image_aspect_ratio"] = "pad";
  refused(b, "image_aspect_ratio");
  b = j;
  b["vision_encoder_config"].erase("vision_config");
  refused(b, "model_name");
  b = j;
  b["text_config"]["model_type"] = "llama";
  refused(b, "model_type");
  // Without vision_config, so400m/14-384 is what model_name names.
  b = j;
  b["vision_encoder_config"].erase("vision_config");
  b["vision_encoder_config"]["model_name"] = "google/siglip-so400m-patch14-384";
  b["vision_tokenizer_config"]["vis_feature_dim"] = 1152;
  const auto c = xgen::Config::from_json(b, "config.json");
  EXPECT_EQ(c.vision.hidden_size, 1152);
  EXPECT_EQ(c.vision.num_hidden_layers, 27);
  EXPECT_EQ(c.vision.image_size, 384);
}

TEST(XGenProcessor, BestResolutionIsThePublishedChoice) {
  const auto g = xgen::default_grids(384);
  EXPECT_EQ(xgen::select_best_resolution(1000, 300, g), (std::pair<int64_t, int64_t>(1152, 384)));
  EXPECT_EQ(xgen::select_best_resolution(300, 1000, g), (std::pair<int64_t, int64_t>(384, 1152)));
  EXPECT_EQ(xgen::select_best_resolution(800, 800, g), (std::pair<int64_t, int64_t>(768, 768)));
  EXPECT_EQ(xgen::select_best_resolution(800, 400, g), (std::pair<int64_t, int64_t>(768, 384)));
}

}  // namespace
}  // namespace mvb::test
