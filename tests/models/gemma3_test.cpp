// Gemma3 and MedGemma against transformers 5.23: the tiny checkpoints and outputs of
// tests/oracles/models/make_gemma3_fixtures.py (tests/fixtures/models/gemma3, medgemma). Pixel values, rendered
// chat templates and input ids exactly, image features and logits within 1e-4 (fp32), greedy ids identical
// (32 tokens for Gemma3; MedGemma's budgeted 512), a left-padded batch equal to one by one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/gemma3/config.h"
#include "medvlmbench/models/gemma3/model.h"
#include "medvlmbench/models/gemma3/processor.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/text/tokenizer.h"
#include "medvlmbench/vision/image.h"
#include "models/support/generative_fixtures.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string fixture_dir(const std::string& kind) { return fixture_path("models/" + kind); }

std::unique_ptr<gemma3::Gemma3Model> model_for(const std::string& kind) {
  const bool med = kind == "medgemma";
  return std::make_unique<gemma3::Gemma3Model>(fp32_spec(fixture_dir(kind), med ? "MedGemma" : "Gemma3"),
                                               med ? gemma3::Flavor::kMedGemma : gemma3::Flavor::kGemma3);
}

std::string stripped(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\n\r"));
  s.erase(s.find_last_not_of(" \t\n\r") + 1);
  return s;
}

class Gemma3Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Gemma3Fixture, ProcessorPixelsTemplateAndIdsMatchTransformers) {
  const std::string kind = GetParam(), dir = fixture_dir(kind);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  auto model = model_for(kind);
  ASSERT_GE(fx.at("cases").size(), 3u);
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    const GenerationRequest r = prompt_images_request(c);
    const auto in = model->process(r);
    // apply_chat_template(tokenize=False) and the question after MedGemma's fit.
    EXPECT_EQ(in.text.rendered, c.at("text").get<std::string>());
    EXPECT_EQ(in.text.question, c.at("fitted_prompt").get<std::string>());
    EXPECT_EQ(in.text.input_ids, ids_of(e.input(name + ".input_ids")));
    // token_type_ids = the soft tokens, one bidirectional group per image.
    const std::vector<int64_t> types = ids_of(e.input(name + ".token_type_ids"));
    std::vector<int64_t> ours;
    for (const auto& ch : in.chunks)
      ours.insert(ours.end(), ch.embeds.defined() ? ch.embeds.size(0) : ch.token_ids.size(), ch.embeds.defined());
    EXPECT_EQ(ours, types);
    const at::Tensor lib = library_pixels(e, name);
    ASSERT_TRUE(in.pixel_values.defined());
    ASSERT_EQ(in.pixel_values.sizes(), lib.sizes());
    EXPECT_EQ(max_abs_diff(in.pixel_values, lib), 0.0) << "pixel_values differ from Gemma3ImageProcessor's";
    // The budget MedGemma's reference computes (Gemma3: the fixture's 32).
    if (kind == "medgemma") EXPECT_EQ(model->generation_config(r).max_new_tokens, c.at("max_new_tokens").get<int>());
  }
}

TEST_P(Gemma3Fixture, ImageFeaturesLogitsAndGreedyIdsMatchTransformers) {
  const std::string kind = GetParam(), dir = fixture_dir(kind);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  auto model = model_for(kind);
  double worst_feat = 0, worst_logits = 0;
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    GenerationRequest r = prompt_images_request(c);
    const auto in = model->process(r);
    const double df = max_abs_diff(model->image_features(in.pixel_values), e.output(name + ".image_embeds"));
    worst_feat = std::max(worst_feat, df);
    EXPECT_LE(df, 1e-4);
    const at::Tensor logits = model->forward_logits(in);
    const at::Tensor lib = e.output(name + ".logits");
    const double dl = lib.dim() == 3 ? max_abs_diff(logits, lib[0]) : max_abs_diff(logits[-1], lib[0]);
    worst_logits = std::max(worst_logits, dl);
    EXPECT_LE(dl, 1e-4);
    if (kind == "gemma3") r.max_new_tokens = 32;  // MedGemma: its own budget (generation_config)
    const std::vector<int64_t> ids = model->generate_ids({r}).at(0);
    EXPECT_EQ(ids, ids_of(e.output(name + ".generated_ids")));
    std::vector<int32_t> ids32(ids.begin(), ids.end());
    EXPECT_EQ(stripped(model->tok().decode(ids32, true)), c.at("answer").get<std::string>());
  }
  std::cout << kind << " image_embeds max |diff| " << worst_feat << ", logits max |diff| " << worst_logits << "\n";
}

// A left-padded batch (different prompt lengths, one and two images) gives each request the ids it gets alone.
TEST(Gemma3Model, LeftPaddedBatchEqualsOneByOne) {
  const std::string dir = fixture_dir("gemma3");
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  auto model = model_for("gemma3");
  std::vector<GenerationRequest> batch;
  const std::vector<std::string> names = {"caption", "multi", "vqa"};
  for (const auto& n : names) {
    batch.push_back(prompt_images_request(fx.at("cases").at(n)));
    batch.back().max_new_tokens = 32;
  }
  const auto ids = model->generate_ids(batch);
  ASSERT_EQ(ids.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(ids[i], ids_of(e.output(names[i] + ".generated_ids"))) << names[i];
  // Through the runner's API: answers decoded as the reference decodes them; a bad image fails only its request.
  batch.push_back(prompt_images_request(fx.at("cases").at("vqa")));
  batch.back().images = {ImageRef::file("/nonexistent/image.png")};
  const auto out = model->generate(batch);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(out[i].error, "") << names[i];
    EXPECT_EQ(out[i].text, fx.at("cases").at(names[i]).at("answer").get<std::string>()) << names[i];
    EXPECT_EQ(out[i].completion_tokens, 32);
  }
  EXPECT_NE(out.back().error, "");
}

TEST(Gemma3Model, GenerationSettingsFollowTheReference) {
  auto gemma = model_for("gemma3");
  GenerationRequest r;
  r.prompt = "q";
  nn::GenerationConfig g = gemma->generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 200);
  EXPECT_FALSE(g.do_sample);  // the reference passes do_sample=False over the checkpoint's do_sample
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 6}));  // <eos>, <end_of_turn>
  r.temperature = 0.7;
  g = gemma->generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 512);
  EXPECT_TRUE(g.do_sample);
  EXPECT_DOUBLE_EQ(g.temperature, 0.7);
  EXPECT_EQ(g.top_k, 64);
  const nlohmann::json d = gemma->describe();
  EXPECT_EQ(d.at("model"), "Gemma3");
  EXPECT_EQ(d.at("architecture"), "Gemma3ForConditionalGeneration");
  EXPECT_EQ(model_for("medgemma")->describe().at("system_prompt"),
            "You are an expert on understanding medical images.");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Gemma3Fixture, ::testing::Values("gemma3", "medgemma"));

TEST(Gemma3Config, PublishedAndTransformers5LayoutsAgree) {
  for (const std::string kind : {"gemma3", "medgemma"}) {
    const auto a = gemma3::Config::load(fixture_dir(kind));
    const auto b = gemma3::Config::load(io::join_path(fixture_dir(kind), "published"));
    EXPECT_EQ(a.text.layer_sliding, b.text.layer_sliding);
    EXPECT_EQ(a.text.sliding_window, b.text.sliding_window);
    EXPECT_EQ(a.text.rope.theta, b.text.rope.theta);
    EXPECT_EQ(a.text.rope.type, "linear");
    EXPECT_EQ(b.text.rope.type, "linear");
    EXPECT_EQ(a.text.rope.factor, b.text.rope.factor);
    EXPECT_EQ(a.text.sliding_rope.theta, b.text.sliding_rope.theta);
    EXPECT_EQ(a.text.sliding_rope.type, "default");
    EXPECT_DOUBLE_EQ(a.text.attention_scale, b.text.attention_scale);
    EXPECT_DOUBLE_EQ(a.text.attention_scale, 1.0 / std::sqrt(12.0));
    EXPECT_EQ(a.image_token_id, b.image_token_id);
    EXPECT_EQ(a.mm_tokens_per_image, 4);
    EXPECT_EQ(a.pool_kernel(), 2);
  }
  // Options we do not implement are refused by name.
  nlohmann::json j = io::read_json(io::join_path(fixture_dir("gemma3"), "config.json"));
  for (const char* k : {"final_logit_softcapping", "attn_logit_softcapping"}) {
    nlohmann::json bad = j;
    bad["text_config"][k] = 30.0;
    try {
      gemma3::Config::from_json(bad, "x/config.json");
      ADD_FAILURE() << k << " was accepted";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(k), std::string::npos) << err.what();
    }
  }
  nlohmann::json rope = j;
  rope["text_config"]["rope_parameters"]["full_attention"]["rope_type"] = "longrope";
  EXPECT_THROW(gemma3::Config::from_json(rope, "x/config.json"), Error);
  EXPECT_THROW(gemma3::Config::from_json({{"model_type", "llava"}}, "x/config.json"), Error);

  // The 4B checkpoint's text_config leaves most keys at Gemma3TextConfig's defaults: every 6th layer global
  // (sliding_window_pattern 6), rope_theta 1e6 with its linear scaling, rope_local_base_freq 1e4, head_dim 256.
  nlohmann::json four_b = j;
  four_b["text_config"] = {{"model_type", "gemma3_text"}, {"hidden_size", 64},
                           {"num_hidden_layers", 12},     {"vocab_size", 500},
                           {"sliding_window", 1024},      {"rope_scaling", {{"factor", 8.0}, {"rope_type", "linear"}}}};
  const auto d = gemma3::Config::from_json(four_b, "x/config.json");
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(d.text.layer_sliding[i], i != 5 && i != 11) << i;
  EXPECT_EQ(d.text.head_dim, 256);
  EXPECT_EQ(d.text.num_kv_heads, 4);
  EXPECT_DOUBLE_EQ(d.text.rope.theta, 1e6);
  EXPECT_DOUBLE_EQ(d.text.rope.factor, 8.0);
  EXPECT_DOUBLE_EQ(d.text.sliding_rope.theta, 1e4);
  EXPECT_EQ(d.text.sliding_rope.type, "default");
  EXPECT_DOUBLE_EQ(d.text.attention_scale, 1.0 / 16.0);  // query_pre_attn_scalar 256
  EXPECT_DOUBLE_EQ(d.text.embedding_multiplier, 8.0);
  EXPECT_TRUE(d.text.tie_word_embeddings);
  four_b["text_config"]["sliding_window"] = nullptr;  // no window: every layer global
  for (bool s : gemma3::Config::from_json(four_b, "x/config.json").text.layer_sliding) EXPECT_FALSE(s);
  four_b["text_config"]["use_bidirectional_attention"] = true;
  EXPECT_THROW(gemma3::Config::from_json(four_b, "x/config.json"), Error);
}

TEST(Gemma3Processor, PromptExpansionPanelAndTruncation) {
  EXPECT_EQ(gemma3::render_prompt("  hi \n", 1, "S"),
            "<bos><start_of_turn>user\nS\n\n<start_of_image>hi<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(gemma3::expand_image_tokens("a<start_of_image>b", 2),
            "a\n\n<start_of_image><image_soft_token><image_soft_token><end_of_image>\n\nb");
  // PIL's thumbnail sizes (checked in Pillow 12.3): no enlarging, aspect rounding toward the closer ratio.
  EXPECT_EQ(gemma3::thumbnail_size(900, 500, 436, 880), std::make_pair(436, 242));
  EXPECT_EQ(gemma3::thumbnail_size(100, 75, 436, 880), std::make_pair(100, 75));
  EXPECT_EQ(gemma3::thumbnail_size(500, 900, 436, 436), std::make_pair(242, 436));
  EXPECT_EQ(gemma3::truncate_text_middle("abcdef", 10), "abcdef");
  EXPECT_EQ(gemma3::truncate_text_middle("0123456789abcdefghijklmnopqrstuvwxyz", 29),
            "789abcdefghijklmnopqrstuvwxyz");  // 29 <= 21 + 8: the tail only
  EXPECT_EQ(gemma3::truncate_text_middle("0123456789abcdefghijklmnopqrstuvwxyz", 31),
            "01234\n[... truncated ...]\nvwxyz");
  // Code points, not bytes (Python's len and slicing).
  const std::string text = "éé345678901234567890123456789012345678é";
  EXPECT_EQ(gemma3::code_point_count(text), 39u);
  EXPECT_EQ(gemma3::truncate_text_middle(text, 30), "\u00e9\u00e934\n[... truncated ...]\n5678\u00e9");
  EXPECT_EQ(gemma3::truncate_text_middle(text, 10), "012345678\u00e9");
  std::vector<RgbImage> two(2);
  for (auto& im : two) {
    im.width = 10;
    im.height = 4;
    im.pixels.assign(10 * 4 * 3, 200);
  }
  const RgbImage panel = gemma3::compose_panel(two, 64, 8);
  EXPECT_EQ(panel.width, 64);
  // cols 2, cell 20 x 48: the first tile at x 8 + 5, y 8 + 22.
  auto px = [&](int x, int y) { return panel.pixels[(static_cast<size_t>(y) * 64 + x) * 3]; };
  EXPECT_EQ(px(13, 30), 200);
  EXPECT_EQ(px(12, 30), 0);
  EXPECT_EQ(px(41, 33), 200);  // second cell starts at 8 + 20 + 8 = 36, tile at 41
  EXPECT_EQ(px(41, 34), 0);
}

}  // namespace
}  // namespace mvb::test
