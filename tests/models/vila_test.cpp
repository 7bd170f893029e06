// VILA1.5 / VILA-M3 against the reference's vendored VILA code (model/release/vila, run on the CPU in
// fp32 by tests/oracles/models/make_vila_fixtures.py; fixture.json lists what was shimmed), on tiny
// checkpoints in the published layout (tests/fixtures/models/vila/{base,lora}).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/vila/layout.h"
#include "medvlmbench/models/vila/model.h"
#include "medvlmbench/nn/generation.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

json fixture_json(const std::string& folder) {
  return json::parse(read_text(fixture_path("models/vila/" + folder + "/fixture.json")));
}

std::vector<int64_t> to_ids(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

std::unique_ptr<vila::VilaModel> load(const std::string& path, const std::string& base = "", json options = {},
                                      vila::VilaModel::Variant v = vila::VilaModel::Variant::kVila15) {
  ModelSpec spec;
  spec.name = v == vila::VilaModel::Variant::kVila15 ? "VILA1.5" : "VILA-M3";
  spec.model_path = fixture_path("models/vila/" + path);
  if (!base.empty()) spec.model_base = fixture_path("models/vila/" + base);
  spec.dtype = "fp32";
  if (!options.is_null()) spec.options = options;
  return std::make_unique<vila::VilaModel>(spec, v);
}

GenerationRequest request_for(const json& c) {
  GenerationRequest r;
  r.prompt = c["question"].get<std::string>();
  r.images = {ImageRef::file(io::join_path(source_dir(), c["image"].get<std::string>()))};
  return r;
}

// The prompt's embeddings as the engine builds them from the chunks, through the whole decoder.
at::Tensor forward_logits(vila::VilaModel& m, const nn::MultimodalInput& input) {
  c10::InferenceMode guard;
  auto& lm = m.net()->llm;
  std::vector<at::Tensor> parts;
  for (const auto& chunk : input)
    parts.push_back(chunk.embeds.defined() ? chunk.embeds.unsqueeze(0)
                                           : lm->model->embed(at::tensor(chunk.token_ids, at::kLong).unsqueeze(0)));
  nn::DecoderInputs in;
  in.inputs_embeds = at::cat(parts, 1);
  in.position_ids = at::arange(in.inputs_embeds.size(1), at::kLong).unsqueeze(0);
  return lm->forward(in, nullptr, nn::LogitsFor::kAll)[0];
}

std::string copy_fixture(const TempDir& dir, const std::string& name) {
  const std::string dst = dir / name;
  std::filesystem::copy(fixture_path("models/vila/base"), dst, std::filesystem::copy_options::recursive);
  return dst;
}

// ---------------------------------------------------------------- layout
TEST(Vila, LayoutReadsThePublishedFolders) {
  const vila::VilaConfig c = vila::load_config(fixture_path("models/vila/base"));
  EXPECT_EQ(c.layout.llm_dir, io::join_path(fixture_path("models/vila/base"), "llm"));
  EXPECT_EQ(c.layout.tokenizer_dir, c.layout.llm_dir);
  EXPECT_EQ(c.llm_model_type, "llama");
  EXPECT_EQ(c.projector_type, "mlp_downsample");
  EXPECT_EQ(c.vision_grid(), 7);
  EXPECT_FALSE(c.drop_first_token);  // cls_patch
  EXPECT_EQ(c.select_layer, -2);
  EXPECT_EQ(c.image_aspect_ratio, "resize");
  EXPECT_EQ(c.text.rope.type, "llama3");
  EXPECT_EQ(c.text.num_kv_heads, 2);
  ASSERT_TRUE(c.image_encoder.end_tokens.has_value());
  EXPECT_EQ(*c.image_encoder.end_tokens, "\n");
}

TEST(Vila, LayoutRefusesWhatItDoesNotImplementByName) {
  TempDir dir;
  const std::string root = copy_fixture(dir, "ckpt");
  const json good = json::parse(read_text(io::join_path(root, "config.json")));
  auto expect_refused = [&](const std::function<void(json&)>& edit, const std::string& needle) {
    json cfg = good;
    edit(cfg);
    write_text(io::join_path(root, "config.json"), cfg.dump());
    try {
      vila::load_config(root);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_refused([](json& c) { c["s2"] = true; }, "\"s2\"");
  expect_refused([](json& c) { c["ps3"] = true; }, "\"ps3\"");
  expect_refused([](json& c) { c["mm_use_im_start_end"] = true; }, "mm_use_im_start_end");
  expect_refused([](json& c) { c["vision_resolution"] = 84; }, "vision_resolution");
  expect_refused([](json& c) { c["image_aspect_ratio"] = "pad"; }, "image_aspect_ratio");
  expect_refused([](json& c) { c["image_encoder"] = R"({"_target_": "llava.model.encoders.TSPImageEncoder"})"; },
                 "image_encoder");
  expect_refused([](json& c) { c.erase("llm_cfg"); }, "llm_cfg");
  expect_refused([](json& c) { c["mm_vision_select_feature"] = "cls"; }, "mm_vision_select_feature");
  // The sub-folders' own configs.
  write_text(io::join_path(root, "config.json"), good.dump());
  json mp = json::parse(read_text(io::join_path(root, "mm_projector/config.json")));
  mp["mm_projector_type"] = "mlp_downsample_3x3_fix";
  write_text(io::join_path(root, "mm_projector/config.json"), mp.dump());
  EXPECT_THROW(vila::load_config(root), Error);
}

TEST(Vila, DownsampleConcatenatesEachBlockRowMajorAfterZeroPadding) {
  // A 3 x 3 grid of 1-channel tokens valued 1..9 -> padded to 4 x 4 -> 4 blocks of 4 channels.
  const at::Tensor x = at::arange(1, 10, at::kFloat).view({1, 9, 1});
  const at::Tensor y = vila::downsample_2x2(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_TRUE(at::equal(
      y[0], at::tensor({1.f, 2.f, 4.f, 5.f, 3.f, 0.f, 6.f, 0.f, 7.f, 8.f, 0.f, 0.f, 9.f, 0.f, 0.f, 0.f}).view({4, 4})))
      << y;
}

// ---------------------------------------------------------------- against the reference
TEST(Vila, ProcessorMatchesReference) {
  const auto m = load("base");
  const json fx = fixture_json("base");
  const ExpectedOutputs ex = read_expected(fixture_path("models/vila/base"));
  // tokenizer.stop_token_ids comes from a Python set: compare as sets.
  std::vector<int64_t> stops = m->stop_token_ids(), want = fx["stop_token_ids"].get<std::vector<int64_t>>();
  std::sort(stops.begin(), stops.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(stops, want) << "eos and the template's end of turn";
  EXPECT_EQ(json(m->end_token_ids()), fx["end_token_ids"]) << "tokenizer(\"\\n\").input_ids, BOS included";
  double worst = 0;
  for (size_t c = 0; c < fx["cases"].size(); ++c) {
    const GenerationRequest r = request_for(fx["cases"][c]);
    std::vector<int64_t> ids = m->tokenize(m->render_prompt(r));
    for (auto& id : ids)
      if (id == vila::VilaModel::kMediaToken) id = fx["media_token_id"].get<int64_t>();
    EXPECT_EQ(ids, to_ids(ex.input("input_ids." + std::to_string(c)))) << "case " << c;
    const at::Tensor px = m->process_image(decode_image(r.images[0]));
    const double d = max_abs_diff(px, ex.input("pixel_values." + std::to_string(c))[0]);
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-6) << "case " << c;
  }
  std::printf("[measured] VILA pixel values: max |ours - reference| = %g\n", worst);
}

void expect_logits_and_greedy(vila::VilaModel& m, const std::string& folder, const std::string& logits_name,
                              bool check_greedy) {
  const json fx = fixture_json(folder);
  const ExpectedOutputs ex = read_expected(fixture_path("models/vila/" + folder));
  double worst = 0;
  for (size_t c = 0; c < fx["cases"].size(); ++c) {
    const std::string k = std::to_string(c);
    const GenerationRequest r = request_for(fx["cases"][c]);
    const auto prepared = m.prepare({&r});
    const at::Tensor logits = forward_logits(m, prepared[0].input);
    const at::Tensor rows = ex.input("logit_rows." + k);
    const at::Tensor expected = ex.output(logits_name + "." + k);
    ASSERT_EQ(logits.size(1), expected.size(1));
    const double d = max_abs_diff(logits.index_select(0, rows), expected);
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4) << folder << " case " << c;
    if (check_greedy) {
      const auto out = nn::generate(m.backend(), {prepared[0].input}, m.generation_config(r));
      EXPECT_EQ(out[0].ids, to_ids(ex.output("greedy." + k))) << folder << " case " << c;
      // tokenizer.decode(new ids, skip_special_tokens=True).strip()
      std::vector<int32_t> ids32(out[0].ids.begin(), out[0].ids.end());
      EXPECT_EQ(trim(m.tokenizer().decode(ids32, true)), fx["answers"][c].get<std::string>())
          << folder << " case " << c;
    }
  }
  std::printf("[measured] VILA %s %s: max |ours - reference| = %g\n", folder.c_str(), logits_name.c_str(), worst);
}

TEST(Vila, LogitsAndGreedyIdsMatchReference) {
  auto m = load("base");
  expect_logits_and_greedy(*m, "base", "logits", true);
  // The reference's default generation config: greedy to max_length = the tokenizer's model_max_length.
  const json fx = fixture_json("base");
  const GenerationRequest r = request_for(fx["cases"][0]);
  const nn::GenerationConfig g = m->generation_config(r);
  EXPECT_FALSE(g.do_sample);
  const int64_t prompt_ids = static_cast<int64_t>(fx["prompt_lengths"][0].get<int64_t>());
  EXPECT_EQ(g.max_new_tokens, fx["generation"]["max_length"].get<int64_t>() - prompt_ids);
}

TEST(Vila, VilaM3IsTheSameArchitecture) {
  auto m = load("base", "", {}, vila::VilaModel::Variant::kVilaM3);
  EXPECT_NE(m->describe()["architecture"].get<std::string>().find("VILA-M3"), std::string::npos);
  expect_logits_and_greedy(*m, "base", "logits", false);
}

TEST(Vila, LoraMergedLoadsTheTunedProjector) {
  // Intended: base + merged LoRA + the tuned projector of non_lora_trainables.bin.
  auto m = load("lora", "base");
  expect_logits_and_greedy(*m, "lora", "logits_tuned_projector", false);
  EXPECT_NE(m->describe()["non_lora_trainables"].get<std::string>().find("6 tensors loaded"), std::string::npos);
}

TEST(Vila, LoraReferenceCompatIgnoresNonLoraTrainablesAsTheReferenceDoes) {
  auto m = load("lora", "base", {{"reference_compat", {"vila_ignore_non_lora_trainables"}}});
  expect_logits_and_greedy(*m, "lora", "logits", true);
}

// transformers >= 4.50's generate(): values of the passed config still at the library defaults take the
// model's generation_config.json values, when that file was written by >= 4.50 (generation/utils.py
// _prepare_generation_config); older files only fill unset token ids.
TEST(Vila, LlmGenerationConfigFillsDefaultsOnlyWhenWrittenByTransformers450) {
  TempDir dir;
  const std::string root = copy_fixture(dir, "ckpt");
  const GenerationRequest r = request_for(fixture_json("base")["cases"][0]);
  auto with_llm_config = [&](const std::string& version) {
    write_text(io::join_path(root, "llm/generation_config.json"), json({{"transformers_version", version},
                                                                        {"do_sample", true},
                                                                        {"temperature", 0.6},
                                                                        {"top_p", 0.9},
                                                                        {"bos_token_id", 300},
                                                                        {"eos_token_id", 301}})
                                                                      .dump());
    ModelSpec spec;
    spec.name = "VILA1.5";
    spec.model_path = root;
    spec.dtype = "fp32";
    return vila::VilaModel(spec, vila::VilaModel::Variant::kVila15).generation_config(r);
  };
  const nn::GenerationConfig newer = with_llm_config("4.53.1");
  EXPECT_TRUE(newer.do_sample);
  EXPECT_DOUBLE_EQ(newer.temperature, 0.6);
  EXPECT_DOUBLE_EQ(newer.top_p, 0.9);
  EXPECT_EQ(newer.eos_token_ids.size(), 2u) << "eos stays the tokenizer's stop ids";
  const nn::GenerationConfig older = with_llm_config("4.36.2");
  EXPECT_FALSE(older.do_sample);
  EXPECT_DOUBLE_EQ(older.temperature, 1.0);
}

TEST(Vila, RefusesChatTemplatesItDoesNotRender) {
  TempDir dir;
  const std::string root = copy_fixture(dir, "ckpt");
  const std::string path = io::join_path(root, "llm/tokenizer_config.json");
  json cfg = json::parse(read_text(path));
  cfg["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  write_text(path, cfg.dump());
  ModelSpec spec;
  spec.name = "VILA1.5";
  spec.model_path = root;
  spec.dtype = "fp32";
  try {
    vila::VilaModel m(spec, vila::VilaModel::Variant::kVila15);
    ADD_FAILURE() << "an unknown chat template was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
}

TEST(Vila, LoraAdapterNeedsItsBase) {
  try {
    load("lora");
    ADD_FAILURE() << "an adapter without --model_base loaded";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--model_base"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::test
