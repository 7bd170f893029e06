// NVILA against the VILA code the reference vendors (ubc-tea/MedVLMBench model/release/vila), run by
// tests/oracles/models/make_nvila_fixtures.py on a tiny checkpoint in the published VILA layout
// (tests/fixtures/models/nvila) with transformers 4.53.1: dynamic-S2 tiles bit for bit, the merged multi-scale
// feature maps, the projected image embeddings, teacher-forced logits and 32 greedy tokens of
// generate_content, the prompt ids, and F.interpolate(mode="area") on its own.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/models/nvila/model.h"
#include "medvlmbench/models/nvila/processor.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/vision/image.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string fixture_dir() { return fixture_path("models/nvila"); }

std::vector<int64_t> ids_of(const at::Tensor& t) {
  const at::Tensor f = t.to(at::kLong).reshape({-1}).contiguous();
  return std::vector<int64_t>(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
}

// The library's pixel_values from the stored 8-bit index and the processor's table (bit for bit).
at::Tensor library_pixels(const ExpectedOutputs& e, const std::string& c) {
  const at::Tensor index = e.input(c + ".pixel_index").to(at::kLong);
  const at::Tensor lut = e.output("lut");
  std::vector<at::Tensor> channels;
  for (int64_t ch = 0; ch < 3; ++ch) channels.push_back(lut[ch].index({index.select(1, ch)}));
  return at::stack(channels, 1);
}

ModelSpec spec_for(const std::string& dir) {
  ModelSpec s;
  s.name = "NVILA";
  s.model_path = dir;
  s.dtype = "fp32";
  s.options = nlohmann::json::object();
  return s;
}

GenerationRequest request_for(const nlohmann::json& c) {
  GenerationRequest r;
  r.prompt = c.at("question").get<std::string>();
  r.images.push_back(ImageRef::file(io::join_path(source_dir(), c.at("image").get<std::string>())));
  return r;
}

struct Loaded {
  nlohmann::json fx;
  ExpectedOutputs e;
  std::unique_ptr<nvila::NvilaModel> model;
};

Loaded& loaded() {
  static Loaded l = [] {
    Loaded x{io::read_json(io::join_path(fixture_dir(), "fixture.json")), read_expected(fixture_dir()), nullptr};
    x.model = std::make_unique<nvila::NvilaModel>(spec_for(fixture_dir()));
    return x;
  }();
  return l;
}

TEST(NvilaProcessor, AreaInterpolationEqualsTorchInterpolateArea) {
  const ExpectedOutputs e = read_expected(fixture_dir());
  for (int k = 0; k < 5; ++k) {
    const at::Tensor x = e.input("area." + std::to_string(k)), want = e.output("area." + std::to_string(k));
    const at::Tensor got = nvila::area_interpolate(x, want.size(2), want.size(3));
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LE(max_abs_diff(got, want), 1e-6) << k;
    std::cout << "[nvila] area " << k << " " << max_abs_diff(got, want) << "\n";
  }
}

TEST(NvilaProcessor, ChessboardSplitAndMergeAreInverse) {
  const at::Tensor x = at::arange(2 * 6 * 9, at::kFloat).reshape({1, 2, 6, 9});
  const at::Tensor parts = nvila::split_chessboard(x, 2, 3);
  ASSERT_EQ(parts.sizes(), (std::vector<int64_t>{6, 2, 3, 3}));
  // Tile (i, j) = index i * 3 + j: tile 4 is row 1, column 1.
  EXPECT_TRUE(at::equal(parts[4], x[0].slice(1, 3, 6).slice(2, 3, 6)));
  EXPECT_TRUE(at::equal(nvila::merge_chessboard(parts, 2, 3), x));
  // Token form [tiles, h*w, C] merges the same way.
  EXPECT_TRUE(at::equal(nvila::merge_chessboard(parts.flatten(2).transpose(1, 2), 2, 3), x));
}

TEST(NvilaProcessor, LastScaleGridFollowsTheAspectRatio) {
  // At least 9 tiles (1344 / 448 squared), at most 12.
  EXPECT_EQ(nvila::last_scale_grid(1000, 1000, 9, 12, 448), (std::pair<int64_t, int64_t>{3, 3}));
  EXPECT_EQ(nvila::last_scale_grid(190, 60, 9, 12, 28), (std::pair<int64_t, int64_t>{6, 2}));
  EXPECT_EQ(nvila::last_scale_grid(600, 800, 9, 12, 448), (std::pair<int64_t, int64_t>{3, 4}));
  // max_tiles below the minimum leaves no candidate: the reference's default (1, 1).
  EXPECT_EQ(nvila::last_scale_grid(600, 800, 9, 4, 448), (std::pair<int64_t, int64_t>{1, 1}));
}

TEST(NvilaProcessor, ChatTemplateDefaultSystemAndQuestionNormalisation) {
  // Qwen2.5's template (system prompt in a literal of the else branch; the tools branch has none).
  const std::string qwen25 =
      "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- else %}{%- if messages[0]['role'] == 'system' %}{{- "
      "'<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou "
      "are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- endif %}"
      "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- if "
      "add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
  EXPECT_EQ(nvila::parse_chat_template(qwen25, "t").default_system,
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_THROW(nvila::parse_chat_template("{{ bos_token }}[INST] {{ m }} [/INST]", "t"), Error);
  EXPECT_EQ(nvila::user_content("  What? "), "<image>  What?");
  EXPECT_EQ(nvila::user_content("What is <image> shown? "), "<image>What is  shown?");
  EXPECT_EQ(nvila::render_prompt({"S"}, "<image>q"),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<image>q<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Nvila, TilesPromptIdsAndFeaturesMatchTheVendoredCode) {
  Loaded& l = loaded();
  std::set<std::vector<int64_t>> grids;
  for (const auto& [name, c] : l.fx.at("cases").items()) {
    if (name == "resize") continue;  // ResizeAspectRatioReadsOneTileRepeatedPerScale
    SCOPED_TRACE(name);
    const nvila::NvilaModel::Input in = l.model->process(request_for(c));
    const at::Tensor lib = library_pixels(l.e, name);
    ASSERT_EQ(in.pixel_values.sizes(), lib.sizes());
    EXPECT_EQ(max_abs_diff(in.pixel_values, lib), 0.0) << "dynamic-S2 tiles differ from dynamic_s2_preprocess's";
    EXPECT_EQ((std::vector<int64_t>{in.rows, in.cols}), ids_of(l.e.input(name + ".block_size")));
    grids.insert({in.rows, in.cols});
    EXPECT_EQ(in.prompt_text, c.at("prompt_text").get<std::string>());
    EXPECT_EQ(in.input_ids, ids_of(l.e.input(name + ".input_ids")));
    EXPECT_EQ(in.positions, c.at("prompt_positions").get<int64_t>());

    const at::Tensor s2 = l.model->s2_features(lib, in.rows, in.cols);
    const at::Tensor want_s2 = l.e.output(name + ".s2_features");
    ASSERT_EQ(s2.sizes(), want_s2.sizes());
    const double d_s2 = max_abs_diff(s2, want_s2);
    EXPECT_LE(d_s2, 1e-5);
    const at::Tensor f = l.model->image_features(lib, in.rows, in.cols);
    const at::Tensor want = l.e.output(name + ".image_embeds")[0];
    ASSERT_EQ(f.sizes(), want.sizes());
    const double d_f = max_abs_diff(f, want);
    EXPECT_LE(d_f, 1e-4);
    std::cout << "[nvila] " << name << " s2_features " << d_s2 << " image_embeds " << d_f << "\n";
  }
  EXPECT_EQ(grids.size(), 3u) << "the cases should cover different last-scale grids";
}

TEST(Nvila, LogitsAndGreedyIdsMatchGenerateContent) {
  Loaded& l = loaded();
  const auto& gen = l.fx.at("generation_config_reference");
  EXPECT_EQ(l.model->stop_token_ids(), l.fx.at("stop_token_ids").get<std::vector<int64_t>>());
  EXPECT_EQ(l.model->vocab_rows(), l.fx.at("vocab").at("after_resize_token_embeddings").get<int64_t>());
  for (const auto& [name, c] : l.fx.at("cases").items()) {
    if (name == "resize") continue;
    SCOPED_TRACE(name);
    const GenerationRequest r = request_for(c);
    const nvila::NvilaModel::Input in = l.model->process(r);
    const at::Tensor logits = l.model->forward_logits(in);
    const at::Tensor want = l.e.output(name + ".logits");
    const at::Tensor ours = want.dim() == 3 ? logits.unsqueeze(0) : logits.select(0, logits.size(0) - 1).unsqueeze(0);
    ASSERT_EQ(ours.sizes(), want.sizes());
    const double d = max_abs_diff(ours, want);
    EXPECT_LE(d, 1e-4);
    std::cout << "[nvila] " << name << " logits " << d << "\n";

    nn::GenerationConfig g = l.model->generation_config(r);
    EXPECT_EQ(g.do_sample, gen.at("do_sample").get<bool>());
    EXPECT_EQ(g.eos_token_ids, gen.at("eos_token_id").get<std::vector<int64_t>>());
    g.max_new_tokens = 32;
    const auto out = nn::generate(l.model->language_backend(), {in.chunks}, g);
    EXPECT_EQ(out.at(0).ids, ids_of(l.e.output(name + ".generated_ids")));
  }
}

TEST(Nvila, DefaultBudgetIsModelMaxLengthMinusThePrompt) {
  Loaded& l = loaded();
  const auto& c = l.fx.at("cases").at("vqa");
  const GenerationRequest r = request_for(c);
  // Before prepare() sees the request: the whole model_max_length; the reference's max_length 8192 counts the
  // new tokens after the prompt's inputs_embeds.
  EXPECT_EQ(l.model->generation_config(r).max_new_tokens,
            l.fx.at("generation_config_reference").at("max_length").get<int64_t>());
  const auto results = l.model->generate({[&] {
    GenerationRequest q = r;
    q.max_new_tokens = 4;
    return q;
  }()});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error, "");
  EXPECT_EQ(results[0].completion_tokens, 4);
  EXPECT_EQ(results[0].prompt_tokens, c.at("prompt_positions").get<int64_t>());
}

// The reference's NVILA tuning saves image_aspect_ratio "resize" (GENERATIVE.md 3 item 12): generate_content then
// takes process_images (one tile) and encode_images repeats its feature map once per scale.
TEST(Nvila, ResizeAspectRatioReadsOneTileRepeatedPerScale) {
  Loaded& l = loaded();
  TempDir t;
  std::filesystem::copy(fixture_dir(), t.path(), std::filesystem::copy_options::recursive);
  nlohmann::json cfg = io::read_json(io::join_path(t.path(), "config.json"));
  cfg["image_aspect_ratio"] = "resize";
  io::write_file_atomic(io::join_path(t.path(), "config.json"), cfg.dump());
  nvila::NvilaModel model(spec_for(t.path()));
  const std::string name = "resize";
  const auto& c = l.fx.at("cases").at(name);
  const GenerationRequest r = request_for(c);
  const nvila::NvilaModel::Input in = model.process(r);
  const at::Tensor lib = library_pixels(l.e, name);
  ASSERT_EQ(in.pixel_values.sizes(), lib.sizes());
  EXPECT_EQ(max_abs_diff(in.pixel_values, lib), 0.0);
  EXPECT_EQ(in.input_ids, ids_of(l.e.input(name + ".input_ids")));
  EXPECT_EQ(in.positions, c.at("prompt_positions").get<int64_t>());
  EXPECT_LE(max_abs_diff(model.s2_features(lib, 0, 0), l.e.output(name + ".s2_features")), 1e-5);
  EXPECT_LE(max_abs_diff(model.image_features(lib, 0, 0), l.e.output(name + ".image_embeds")[0]), 1e-4);
  const at::Tensor logits = model.forward_logits(in);
  EXPECT_LE(max_abs_diff(logits.select(0, logits.size(0) - 1).unsqueeze(0), l.e.output(name + ".logits")), 1e-4);
  nn::GenerationConfig g = model.generation_config(r);
  g.max_new_tokens = 32;
  EXPECT_EQ(nn::generate(model.language_backend(), {in.chunks}, g).at(0).ids,
            ids_of(l.e.output(name + ".generated_ids")));
}

TEST(Nvila, RefusesACheckpointWithoutDynamicS2) {
  TempDir t;
  std::filesystem::copy(fixture_dir(), t.path(), std::filesystem::copy_options::recursive);
  nlohmann::json cfg = io::read_json(io::join_path(t.path(), "config.json"));
  cfg["dynamic_s2"] = false;
  io::write_file_atomic(io::join_path(t.path(), "config.json"), cfg.dump());
  try {
    nvila::NvilaModel m(spec_for(t.path()));
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dynamic_s2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::test
