// InternVL3 (-hf) against transformers 5.23 (model) and 4.53.1 (processor): the tiny checkpoints and
// outputs of tests/oracles/models/make_internvl_fixtures.py (tests/fixtures/models/internvl: InternViT
// with qkv bias, LayerNorm and mean pooling, untied head, as InternVL3-1B..14B; internvl_qk: RMSNorm,
// QK-norm, the final layernorm, vision_feature_layer -2 and a tied head, as the InternViT-6B models).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/internvl/config.h"
#include "medvlmbench/models/internvl/model.h"
#include "medvlmbench/models/internvl/processor.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/text/tokenizer.h"
#include "medvlmbench/vision/image.h"
#include "models/support/generative_fixtures.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string fixture_dir(const std::string& kind) { return fixture_path("models/" + kind); }

RgbImage image_at(const std::string& rel) { return decode_image(ImageRef::file(io::join_path(source_dir(), rel))); }

ModelSpec spec_for(const std::string& dir, const nlohmann::json& options = {}) {
  return fp32_spec(dir, "InternVL3", options);
}

// The template's text with InternVLProcessor's expansion of each <IMG_CONTEXT> (one per image).
std::string expand(const std::string& text, const std::vector<int64_t>& tiles, int64_t seq) {
  std::string out;
  size_t image = 0;
  for (size_t at_pos = 0;;) {
    const size_t hit = text.find("<IMG_CONTEXT>", at_pos);
    out += text.substr(at_pos, hit == std::string::npos ? std::string::npos : hit - at_pos);
    if (hit == std::string::npos) break;
    out += "<img>";
    for (int64_t k = 0; k < tiles.at(image) * seq; ++k) out += "<IMG_CONTEXT>";
    out += "</img>";
    ++image;
    at_pos = hit + 13;
  }
  return out;
}

class InternVLFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(InternVLFixture, ProcessorPixelsPromptAndIdsMatchTransformers) {
  const std::string dir = fixture_dir(GetParam());
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  const auto cfg = internvl::Config::load(dir);
  const auto icfg = internvl::load_image_config(dir);
  EXPECT_TRUE(icfg.fast) << "the -hf preprocessor_config names GotOcr2ImageProcessorFast";
  const auto tok = text::load_tokenizer(dir);
  ASSERT_EQ(fx.at("cases").size(), 3u);
  std::set<int64_t> tile_counts;
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    std::vector<at::Tensor> pixels;
    std::vector<int64_t> tiles;
    for (const auto& p : c.at("images")) {
      const internvl::Pixels px = internvl::preprocess_image(image_at(p.get<std::string>()), icfg);
      pixels.push_back(px.pixel_values);
      tiles.push_back(px.num_patches);
      tile_counts.insert(px.num_patches);
    }
    EXPECT_EQ(tiles, ids_of(e.input(name + ".num_patches")));
    const at::Tensor ours = at::cat(pixels, 0), lib = library_pixels(e, name);
    ASSERT_EQ(ours.sizes(), lib.sizes());
    EXPECT_EQ(max_abs_diff(ours, lib), 0.0) << "pixel_values differ from GotOcr2ImageProcessorFast's";
    const std::string prompt = internvl::render_prompt(c.at("prompt").get<std::string>(), tiles, cfg.image_seq_length);
    EXPECT_EQ(prompt, expand(c.at("text").get<std::string>(), tiles, cfg.image_seq_length));
    const auto ids32 = tok->encode(prompt, true);
    EXPECT_EQ(std::vector<int64_t>(ids32.begin(), ids32.end()), ids_of(e.input(name + ".input_ids")));
  }
  // One tile (no thumbnail), and several tiles plus the thumbnail.
  EXPECT_TRUE(tile_counts.count(1) && tile_counts.count(3) && tile_counts.count(4));
}

TEST_P(InternVLFixture, VisionFeaturesMatchGetImageFeatures) {
  const std::string dir = fixture_dir(GetParam());
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  internvl::InternVLModel model(spec_for(dir));
  double worst = 0;
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    at::NoGradGuard ng;
    const at::Tensor ours = model.vision()->image_features(library_pixels(e, name));
    const double d = max_abs_diff(ours, e.output(name + ".image_embeds"));
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4);
  }
  std::cout << GetParam() << " image_embeds max |diff| " << worst << "\n";
}

TEST_P(InternVLFixture, ForwardLogitsMatchTransformers) {
  const std::string dir = fixture_dir(GetParam());
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  internvl::InternVLModel model(spec_for(dir));
  EXPECT_EQ(model.tied(), GetParam() == "internvl_qk");
  double worst = 0;
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    const auto in = model.process(prompt_images_request(c));
    EXPECT_EQ(in.input_ids, ids_of(e.input(name + ".input_ids")));
    const at::Tensor ours = model.forward_logits(in), lib = e.output(name + ".logits");
    const double d = lib.dim() == 3 ? max_abs_diff(ours, lib[0]) : max_abs_diff(ours[-1], lib[0]);
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4);
  }
  std::cout << GetParam() << " logits max |diff| " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Tiny, InternVLFixture, ::testing::Values("internvl", "internvl_qk"));

TEST(InternVLModel, GreedyIdsMatchTransformersAndBatchEqualsOneByOne) {
  const std::string dir = fixture_dir("internvl");
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  internvl::InternVLModel model(spec_for(dir));
  const std::vector<std::string> names = {"vqa", "caption", "multi"};
  std::vector<GenerationRequest> batch;
  for (const auto& n : names) {
    SCOPED_TRACE(n);
    GenerationRequest r = prompt_images_request(fx.at("cases").at(n));
    r.max_new_tokens = 32;
    EXPECT_EQ(model.generate_ids({r}).at(0), ids_of(e.output(n + ".generated_ids")));
    batch.push_back(r);
  }
  // Left-padded batch (prompts of 61 to 135 tokens, one and two images).
  const auto ids = model.generate_ids(batch);
  ASSERT_EQ(ids.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(ids[i], ids_of(e.output(names[i] + ".generated_ids"))) << names[i];
}

// The GenerativeModel API the runner calls: answers decoded as the reference decodes them, prompt and
// token counts in the row, a failing request failing alone.
TEST(InternVLModel, GenerateReturnsTheReferenceAnswers) {
  const std::string dir = fixture_dir("internvl");
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  internvl::InternVLModel model(spec_for(dir, {{"batch_size", 4}}));
  std::vector<GenerationRequest> batch;
  const std::vector<std::string> names = {"vqa", "caption", "multi"};
  for (const auto& n : names) {
    batch.push_back(prompt_images_request(fx.at("cases").at(n)));
    batch.back().max_new_tokens = 32;
  }
  batch.push_back(prompt_images_request(fx.at("cases").at("vqa")));
  batch.back().images = {ImageRef::file("/nonexistent/image.png")};
  const auto out = model.generate(batch);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    const auto& c = fx.at("cases").at(names[i]);
    EXPECT_EQ(out[i].error, "");
    EXPECT_EQ(out[i].text, c.at("answer").get<std::string>());
    EXPECT_EQ(out[i].prompt_tokens, e.input(names[i] + ".input_ids").size(1));
    EXPECT_EQ(out[i].completion_tokens, c.at("new_tokens").get<int64_t>());
    EXPECT_EQ(out[i].extra.at("prompt").get<std::string>().rfind("<|im_start|>user\n<img><IMG_CONTEXT>", 0), 0u);
  }
  EXPECT_NE(out.back().error.find("/nonexistent/image.png"), std::string::npos) << out.back().error;
}

TEST(InternVLModel, Bf16StaysNearFp32) {
  const std::string dir = fixture_dir("internvl");
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  ModelSpec spec = spec_for(dir);
  spec.dtype = "bf16";
  internvl::InternVLModel model(spec);
  const auto in = model.process(prompt_images_request(fx.at("cases").at("vqa")));
  const at::Tensor lib = e.output("vqa.logits")[0];
  const double d = max_abs_diff(model.forward_logits(in), lib);
  std::cout << "bf16 logits max |diff| " << d << " (logits max |value| " << lib.abs().max().item<double>() << ")\n";
  EXPECT_LE(d, 0.05 * lib.abs().max().item<double>());
}

TEST(InternVLConfig, ReadsTheFixtureAndRefusesWhatIsNotImplemented) {
  const auto a = internvl::Config::load(fixture_dir("internvl"));
  EXPECT_EQ(a.vision.hidden_size, 16);
  EXPECT_TRUE(a.vision.attention_bias);
  EXPECT_FALSE(a.vision.rms_norm);
  EXPECT_TRUE(a.vision.use_mean_pooling);
  EXPECT_EQ(a.vision.image_size, 56);
  EXPECT_EQ(a.tokens_per_tile(), 4);
  EXPECT_EQ(a.vision_feature_layer, -1);
  const auto b = internvl::Config::load(fixture_dir("internvl_qk"));
  EXPECT_TRUE(b.vision.rms_norm);
  EXPECT_TRUE(b.vision.use_qk_norm);
  EXPECT_FALSE(b.vision.use_mean_pooling);
  EXPECT_EQ(b.vision_feature_layer, -2);

  const nlohmann::json base = io::read_json(io::join_path(fixture_dir("internvl"), "config.json"));
  auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& key) {
    nlohmann::json j = base;
    edit(j);
    try {
      internvl::Config::from_json(j, "x/config.json");
      ADD_FAILURE() << "accepted " << key;
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(key), std::string::npos) << err.what();
      EXPECT_NE(std::string(err.what()).find("x/config.json"), std::string::npos) << err.what();
    }
  };
  refused([](auto& j) { j["model_type"] = "llava"; }, "model_type");
  refused([](auto& j) { j["vision_feature_layer"] = {-1, -2}; }, "vision_feature_layer");
  refused([](auto& j) { j["vision_feature_select_strategy"] = "full"; }, "vision_feature_select_strategy");
  refused([](auto& j) { j["downsample_ratio"] = 0.3; }, "downsample_ratio");
  refused([](auto& j) { j["vision_config"]["norm_type"] = "batch_norm"; }, "norm_type");
  refused([](auto& j) { j["vision_config"]["image_size"] = {56, 84}; }, "image_size");
  refused([](auto& j) { j["image_seq_length"] = 256; }, "image_seq_length");
  refused([](auto& j) { j["vision_config"]["hidden_size"] = 15; }, "hidden_size");
  EXPECT_THROW(internvl::Config::load("/nonexistent"), Error);

  nlohmann::json pre = io::read_json(io::join_path(fixture_dir("internvl"), "preprocessor_config.json"));
  pre["do_center_crop"] = true;
  EXPECT_THROW(internvl::image_config_from_json(pre, "p.json"), Error);
  pre["do_center_crop"] = nullptr;
  pre["resample"] = 1;  // lanczos
  EXPECT_THROW(internvl::image_config_from_json(pre, "p.json"), Error);
}

// A preprocessor_config naming the slow class runs the PIL path (what transformers 4.53.1 loads then),
// which differs from the fast one by at most one grey level.
TEST(InternVLProcessor, SlowClassRunsThePilPath) {
  nlohmann::json pre = io::read_json(io::join_path(fixture_dir("internvl"), "preprocessor_config.json"));
  const auto fast = internvl::image_config_from_json(pre, "p.json");
  pre["image_processor_type"] = "GotOcr2ImageProcessor";
  const auto slow = internvl::image_config_from_json(pre, "p.json");
  EXPECT_FALSE(slow.fast);
  const RgbImage img = image_at("tests/fixtures/models/qwen2_vl_images/wide_190x60.png");
  const auto a = internvl::preprocess_image(img, fast), b = internvl::preprocess_image(img, slow);
  EXPECT_EQ(a.num_patches, 4);
  EXPECT_EQ(b.num_patches, 4);
  const double d = max_abs_diff(a.pixel_values, b.pixel_values);
  EXPECT_GT(d, 0.0);
  EXPECT_LE(d, 1.01 / (0.224 * 255));
  // A resize to the same size is the identity.
  const RgbImage same = internvl::torchvision_resize(img, img.width, img.height, Resample::kBicubic);
  EXPECT_EQ(same.pixels, img.pixels);
}

TEST(InternVLModel, RegistryAndClearErrors) {
  const auto* entry = model_registry().find("InternVL3");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->family, "generative");
  EXPECT_EQ(entry->tasks, (std::vector<std::string>{"vqa", "caption"}));
  EXPECT_EQ(entry->default_checkpoint, "OpenGVLab/InternVL3-8B-hf");
  EXPECT_THROW(internvl::InternVLModel(spec_for("/nonexistent")), UsageError);
  EXPECT_THROW(internvl::InternVLModel(spec_for(fixture_dir("qwen2_vl"))), Error);  // not an internvl config
  // The reference's decoding: 200 new tokens, greedy (the -hf generation_config has bos / eos only).
  internvl::InternVLModel model(spec_for(fixture_dir("internvl")));
  GenerationRequest r;
  auto g = model.generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 200);
  EXPECT_FALSE(g.do_sample);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{278}));
  r.max_new_tokens = 7;
  r.temperature = 0.5;
  g = model.generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 7);
  EXPECT_TRUE(g.do_sample);
  EXPECT_DOUBLE_EQ(g.temperature, 0.5);
  const nlohmann::json d = model.describe();
  EXPECT_EQ(d.at("image_processor"), "GotOcr2ImageProcessorFast");
  EXPECT_EQ(d.at("generation").at("max_new_tokens"), 200);
}

// The published weight names (language_model.model.*, vision_tower.*, language_model.lm_head.*) and
// transformers 5's in-memory ones (model.language_model.*, model.vision_tower.*, lm_head.*) load alike.
TEST(InternVLModel, BothWeightLayoutsLoad) {
  EXPECT_EQ(internvl::checkpoint_to_module("model.vision_tower.encoder.layer.0.lambda_1"),
            std::optional<std::string>("v.vision_tower.encoder.layer.0.lambda_1"));
  EXPECT_EQ(internvl::checkpoint_to_module("vision_tower.embeddings.cls_token"),
            std::optional<std::string>("v.vision_tower.embeddings.cls_token"));
  EXPECT_EQ(internvl::checkpoint_to_module("multi_modal_projector.linear_1.weight"),
            std::optional<std::string>("v.multi_modal_projector.linear_1.weight"));
  EXPECT_EQ(internvl::checkpoint_to_module("language_model.model.norm.weight"),
            std::optional<std::string>("lm.model.norm.weight"));
  EXPECT_EQ(internvl::checkpoint_to_module("model.language_model.norm.weight"),
            std::optional<std::string>("lm.model.norm.weight"));
  EXPECT_EQ(internvl::checkpoint_to_module("language_model.lm_head.weight"),
            std::optional<std::string>("lm.lm_head.weight"));
  EXPECT_EQ(internvl::checkpoint_to_module("lm_head.weight"), std::optional<std::string>("lm.lm_head.weight"));
  EXPECT_EQ(internvl::checkpoint_to_module("something.else"), std::nullopt);
}

}  // namespace
}  // namespace mvb::test

namespace mvb::test {
namespace {

// The published 448 px tiles (too large to store): the live oracle runs transformers'
// GotOcr2ImageProcessor (torchvision backend) on a synthetic 1000 x 700 image (7 tiles from a
// downscale), a 320 x 240 photo (12 tiles + thumbnail, upscaled) and a 300 x 12 strip.
TEST(InternVLProcessor, PublishedTileSizeMatchesTransformersLive) {
  MVB_REQUIRE_ORACLE_ENV();
  TempDir tmp;
  const std::string images = fixture_path("vision/processors/images");
  const auto r = run_oracle_script(
      OracleInterpreter::kOracleEnv, "models/internvl_pixels_oracle.py",
      {tmp.path(), fixture_dir("internvl"), io::join_path(images, "large.jpg"), io::join_path(images, "thin.png")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json paths = io::read_json(tmp / "images.json");
  const ExpectedOutputs e = read_expected(tmp.path());
  nlohmann::json pre = io::read_json(io::join_path(fixture_dir("internvl"), "preprocessor_config.json"));
  pre["size"] = {{"height", 448}, {"width", 448}};
  const auto cfg = internvl::image_config_from_json(pre, "preprocessor_config.json");
  ASSERT_EQ(paths.size(), 3u);
  for (size_t i = 0; i < paths.size(); ++i) {
    SCOPED_TRACE(paths[i].get<std::string>());
    const std::string c = std::to_string(i);
    const auto px = internvl::preprocess_image(decode_image(ImageRef::file(paths[i].get<std::string>())), cfg);
    EXPECT_EQ(px.num_patches, e.input(c + ".num_patches").item<int64_t>());
    const at::Tensor lib = library_pixels(e, c);
    ASSERT_EQ(px.pixel_values.sizes(), lib.sizes());
    EXPECT_EQ(max_abs_diff(px.pixel_values, lib), 0.0);
  }
}

}  // namespace
}  // namespace mvb::test

namespace mvb::test {
namespace {

// transformers 5's in-memory names (model.vision_tower.*, model.multi_modal_projector.*,
// model.language_model.*, lm_head.*) load to the same logits as the published ones the fixture holds.
TEST(InternVLModel, InMemoryNamesLoadToTheSameLogits) {
  const std::string dir = fixture_dir("internvl");
  TempDir tmp;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string n = f.path().filename().string();
    if (f.is_regular_file() && n != "model.safetensors" && n != "expected.safetensors")
      std::filesystem::copy_file(f.path(), tmp / n);
  }
  const io::StateDict sd = io::StateDict::open(io::join_path(dir, "model.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> renamed;
  for (const auto& n : sd.names()) {
    std::string h = n;
    if (h.rfind("language_model.model.", 0) == 0)
      h = "model.language_model." + h.substr(21);
    else if (h.rfind("language_model.lm_head.", 0) == 0)
      h = h.substr(15);
    else
      h = "model." + h;
    renamed.emplace_back(h, sd.get(n));
  }
  io::write_safetensors(tmp / "model.safetensors", renamed);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  internvl::InternVLModel model(spec_for(tmp.path()));
  const auto in = model.process(prompt_images_request(fx.at("cases").at("vqa")));
  EXPECT_LE(max_abs_diff(model.forward_logits(in), e.output("vqa.logits")[0]), 1e-4);
  // Without lm_head.weight and with tie_word_embeddings false everywhere, the head is missing: an error.
  std::vector<std::pair<std::string, at::Tensor>> headless;
  for (const auto& [n, t] : renamed)
    if (n != "lm_head.weight") headless.emplace_back(n, t);
  io::write_safetensors(tmp / "model.safetensors", headless);
  EXPECT_THROW(internvl::InternVLModel(spec_for(tmp.path())), Error);
}

// A request without images (text only) and a system turn (agents) render as the template renders them.
TEST(InternVLProcessor, SystemTurnAndTextOnlyRequests) {
  EXPECT_EQ(internvl::render_prompt("Hi?", {}, 4, "Be brief."),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(internvl::render_prompt("Q", {1, 2}, 2),
            "<|im_start|>user\n<img>"
            "<IMG_CONTEXT><IMG_CONTEXT></img>\n<img><IMG_CONTEXT><IMG_CONTEXT><IMG_CONTEXT><IMG_CONTEXT></img>\nQ"
            "<|im_end|>\n<|im_start|>assistant\n");
  internvl::InternVLModel model(spec_for(fixture_dir("internvl")));
  GenerationRequest r;
  r.prompt = "Is this a lung?";
  r.max_new_tokens = 4;
  const auto out = model.generate({r});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, "");
  EXPECT_EQ(out[0].completion_tokens, 4);
}

}  // namespace
}  // namespace mvb::test
