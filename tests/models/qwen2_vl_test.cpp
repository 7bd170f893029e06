// Qwen2-VL, Qwen2.5-VL and Lingshu against transformers 5.23 + qwen_vl_utils 0.0.10: the tiny
// checkpoints and outputs of tests/oracles/models/make_qwen2_vl_fixtures.py
// (tests/fixtures/models/qwen2_vl, qwen2_5_vl), and the Qwen cases of the image-processor fixtures
// (tests/fixtures/vision/processors, made from the published preprocessor configs).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/models/qwen2_vl/config.h"
#include "medvlmbench/models/qwen2_vl/model.h"
#include "medvlmbench/models/qwen2_vl/processor.h"
#include "medvlmbench/models/qwen2_vl/vision.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/text/tokenizer.h"
#include "medvlmbench/vision/image.h"
#include "models/support/generative_fixtures.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

using qwen2_vl::Grid;

std::string fixture_dir(const std::string& kind) { return fixture_path("models/" + kind); }

// pixel_values rebuilt from the stored 8-bit index of the first frame and the processor's table: the
// library's floats bit for bit, for both (identical) frames.
at::Tensor library_patches(const ExpectedOutputs& e, const std::string& c) {
  const at::Tensor index = e.input(c + ".pixel_index");  // [P, 3, p*p]
  const at::Tensor lut = e.output("lut");
  if (!index.defined() || !lut.defined()) return {};
  std::vector<at::Tensor> channels;
  for (int64_t ch = 0; ch < 3; ++ch) channels.push_back(lut[ch].index({index.select(1, ch).to(at::kLong)}));
  const at::Tensor frame = at::stack(channels, 1);  // [P, 3, p*p]
  return at::stack({frame, frame}, 2).reshape({index.size(0), -1});
}

std::vector<Grid> grids_of(const at::Tensor& grid_thw) {
  std::vector<Grid> out;
  const at::Tensor g = grid_thw.to(at::kLong).contiguous();
  for (int64_t i = 0; i < g.size(0); ++i)
    out.push_back({g[i][0].item<int64_t>(), g[i][1].item<int64_t>(), g[i][2].item<int64_t>()});
  return out;
}

// The image settings of one fixture case as the model applies them (fetch_image's message keys).
qwen2_vl::ImageConfig case_image_config(const std::string& dir, const nlohmann::json& c) {
  qwen2_vl::ImageConfig cfg = qwen2_vl::load_image_config(dir);
  const auto& fetch = c.at("fetch");
  cfg.fetch_min_pixels = fetch.value("min_pixels", cfg.fetch_min_pixels);
  cfg.fetch_max_pixels = fetch.value("max_pixels", cfg.fetch_max_pixels);
  cfg.resized_height = fetch.value("resized_height", 0);
  cfg.resized_width = fetch.value("resized_width", 0);
  return cfg;
}

// Our processor on one case: patches of all its images, their grids.
std::pair<at::Tensor, std::vector<Grid>> our_pixels(const std::string& dir, const nlohmann::json& c) {
  const qwen2_vl::ImageConfig cfg = case_image_config(dir, c);
  std::vector<at::Tensor> patches;
  std::vector<Grid> grids;
  for (const auto& path : c.at("images")) {
    const RgbImage img = decode_image(ImageRef::file(io::join_path(source_dir(), path.get<std::string>())));
    const qwen2_vl::Pixels p = qwen2_vl::preprocess_image(img, cfg);
    patches.push_back(p.patches);
    grids.push_back(p.grid_thw);
  }
  return {at::cat(patches, 0), grids};
}

qwen2_vl::VisionTower load_tower(const std::string& dir, const qwen2_vl::Config& cfg) {
  qwen2_vl::VisionTower tower(cfg.vision);
  io::StateDict sd = io::StateDict::open(dir);
  const auto tensors = nn::read_weights(sd, [](const std::string& n) -> std::optional<std::string> {
    for (const char* p : {"model.visual.", "visual."})
      if (n.rfind(p, 0) == 0) return n.substr(std::string(p).size());
    return std::nullopt;
  });
  nn::assign_weights(*tower, tensors, sd.source());
  tower->eval();
  return tower;
}

class QwenFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(QwenFixture, ProcessorPixelsGridsPromptIdsAndRopeIndexMatchTransformers) {
  const std::string dir = fixture_dir(GetParam());
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  const auto cfg = qwen2_vl::Config::load(dir);
  const auto tok = text::load_tokenizer(dir);
  ASSERT_GE(fx.at("cases").size(), 4u);
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    const auto [patches, grids] = our_pixels(dir, c);
    ASSERT_EQ(grids.size(), static_cast<size_t>(e.input(name + ".image_grid_thw").size(0)));
    for (size_t i = 0; i < grids.size(); ++i) EXPECT_EQ(grids[i], grids_of(e.input(name + ".image_grid_thw"))[i]);
    if (name.rfind("lingshu", 0) != 0) {  // (Lingshu's 224 x 224 pixels are not stored)
      const at::Tensor lib = library_patches(e, name);
      ASSERT_EQ(patches.sizes(), lib.sizes());
      EXPECT_EQ(max_abs_diff(patches, lib), 0.0) << "pixel_values differ from Qwen2VLImageProcessor's";
    }
    // The prompt apply_chat_template renders, with the processor's pad expansion, and its ids.
    std::vector<int64_t> counts;
    for (const Grid& g : grids) counts.push_back(qwen2_vl::image_token_count(g, cfg.vision.spatial_merge_size));
    const std::string prompt = qwen2_vl::render_prompt(c.at("prompt").get<std::string>(), counts);
    std::string expected_text = c.at("text").get<std::string>();
    std::string expanded;
    size_t image = 0;
    for (size_t at_pos = 0;;) {
      const size_t hit = expected_text.find("<|image_pad|>", at_pos);
      expanded += expected_text.substr(at_pos, hit == std::string::npos ? std::string::npos : hit - at_pos);
      if (hit == std::string::npos) break;
      for (int64_t k = 0; k < counts[image]; ++k) expanded += "<|image_pad|>";
      ++image;
      at_pos = hit + 13;
    }
    EXPECT_EQ(prompt, expanded);
    const auto ids32 = tok->encode(prompt, true);
    const std::vector<int64_t> ids(ids32.begin(), ids32.end());
    EXPECT_EQ(ids, ids_of(e.input(name + ".input_ids")));
    // get_rope_index.
    const auto [pos, delta] = qwen2_vl::rope_index(ids, cfg.image_token_id, grids, cfg.vision.spatial_merge_size);
    EXPECT_TRUE(at::equal(pos, e.output(name + ".position_ids").select(1, 0).to(at::kLong)));
    EXPECT_EQ(delta, e.output(name + ".rope_delta").item<int64_t>());
  }
}

TEST_P(QwenFixture, VisionTowerMatchesGetImageFeatures) {
  const std::string dir = fixture_dir(GetParam());
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  const auto cfg = qwen2_vl::Config::load(dir);
  auto tower = load_tower(dir, cfg);
  double worst = 0;
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    const auto [patches, grids] = our_pixels(dir, c);
    at::NoGradGuard ng;
    const at::Tensor ours = tower->forward(patches, grids);
    const double d = max_abs_diff(ours, e.output(name + ".image_embeds"));
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4);
  }
  std::cout << GetParam() << " image_embeds max |diff| " << worst << "\n";
}

TEST(Qwen2VLConfig, PublishedAndTransformers5LayoutsAgree) {
  for (const std::string kind : {"qwen2_vl", "qwen2_5_vl"}) {
    const std::string dir = fixture_dir(kind);
    const auto a = qwen2_vl::Config::load(dir);
    const auto b = qwen2_vl::Config::load(io::join_path(dir, "published"));
    EXPECT_EQ(a.variant, b.variant);
    EXPECT_EQ(a.vision.hidden_size, b.vision.hidden_size);
    EXPECT_EQ(a.vision.intermediate_size, b.vision.intermediate_size);
    EXPECT_EQ(a.vision.out_hidden_size, b.vision.out_hidden_size);
    EXPECT_EQ(a.vision.hidden_act, b.vision.hidden_act);
    EXPECT_EQ(a.vision.window_size, b.vision.window_size);
    EXPECT_EQ(a.vision.fullatt_block_indexes, b.vision.fullatt_block_indexes);
    EXPECT_EQ(a.image_token_id, b.image_token_id);
    EXPECT_EQ(a.vision_start_token_id, b.vision_start_token_id);
    EXPECT_EQ(a.text_config.at("rope_parameters"), b.text_config.at("rope_parameters"));
    for (const char* k : {"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                          "intermediate_size", "vocab_size", "rms_norm_eps"})
      EXPECT_EQ(a.text_config.at(k), b.text_config.at(k)) << k;
  }
  EXPECT_THROW(qwen2_vl::Config::from_json({{"model_type", "llava"}}, "x/config.json"), Error);
  EXPECT_THROW(qwen2_vl::Config::load("/nonexistent"), Error);
}

// The Qwen cases of the image-processor fixtures (published Qwen2-VL / Qwen2.5-VL preprocessor
// configs, real image files including a 16-bit PNG, a thin 300 x 12 image and a JPEG).
TEST(Qwen2VLProcessor, ProcessorFixtureCasesBitForBit) {
  const std::string root = fixture_path("vision/processors");
  const nlohmann::json fixture = io::read_json(io::join_path(root, "fixture.json"));
  const ExpectedOutputs e = read_expected(root);
  int n = 0;
  for (const auto& [name, c] : fixture.at("cases").items()) {
    if (c.at("kind") != "qwen") continue;
    SCOPED_TRACE(name);
    ++n;
    const std::string checkpoint = c.at("checkpoint");
    const std::string folder = io::join_path(root, checkpoint);
    qwen2_vl::ImageConfig q = qwen2_vl::load_image_config(folder);
    const auto fetch = c.value("fetch_image", nlohmann::json::object());
    q.resized_height = fetch.value("resized_height", 0);
    q.resized_width = fetch.value("resized_width", 0);
    const RgbImage img =
        decode_image(ImageRef::file(io::join_path(root, "images/" + c.at("image").get<std::string>())));
    const qwen2_vl::Pixels p = qwen2_vl::preprocess_image(img, q);
    const at::Tensor index = e.output(name + ".pixel_index");
    const at::Tensor lut = e.output(checkpoint + ".lut");
    std::vector<at::Tensor> channels;
    for (int64_t ch = 0; ch < 3; ++ch) channels.push_back(lut[ch].index({index.select(1, ch).to(at::kLong)}));
    const at::Tensor expected = at::stack(channels, 1);
    const at::Tensor ours = p.patches.reshape({p.patches.size(0), 3, -1});
    ASSERT_EQ(ours.sizes(), expected.sizes());
    EXPECT_EQ(max_abs_diff(ours, expected), 0.0);
    EXPECT_TRUE(at::equal(at::tensor(std::vector<int64_t>(p.grid_thw.begin(), p.grid_thw.end())).reshape({1, 3}),
                          e.output(name + ".image_grid_thw").to(at::kLong)));
  }
  EXPECT_GE(n, 3);
}

TEST(Qwen2VLProcessor, SmartResizeRoundsLikePython) {
  // qwen_vl_utils keeps a thin side at one factor; transformers' processor alone would round it to 0
  // and grow the whole image to min_pixels. The reference runs qwen_vl_utils first, so a 12 x 300
  // image becomes 28 x 308 (the processor fixture's qwen2vl_thin case holds the library's grid).
  EXPECT_EQ(qwen2_vl::smart_resize(12, 300, 28, 56 * 56, 28 * 28 * 1280), std::make_pair(28, 308));
  // Python rounds half to even: 42 / 28 = 1.5 -> 2, 70 / 28 = 2.5 -> 2.
  EXPECT_EQ(qwen2_vl::smart_resize(42, 70, 28, 1, 1 << 30), std::make_pair(56, 56));
  EXPECT_THROW(qwen2_vl::smart_resize(10, 3000, 28, 1, 1 << 30), Error);
  // Lingshu: any image becomes 224 x 224, 64 tokens.
  EXPECT_EQ(qwen2_vl::smart_resize(224, 224, 28, 4 * 28 * 28, 16384 * 28 * 28), std::make_pair(224, 224));
  EXPECT_EQ(qwen2_vl::image_token_count({1, 16, 16}, 2), 64);
}

TEST(Qwen2VLVision, WindowIndexMatchesTransformersLayout) {
  // One 1 x 4 x 6 grid (2 x 3 merged), windows of 2 merged tokens (56 px): windows [0 1 | 3 4], [2 | 5].
  const auto wi = qwen2_vl::vision_window_index({Grid{1, 4, 6}}, 2, 56, 14);
  EXPECT_EQ(ids_of(wi.index), (std::vector<int64_t>{0, 1, 3, 4, 2, 5}));
  EXPECT_EQ(wi.cu_seqlens, (std::vector<int64_t>{0, 16, 24}));
}

// ---------------------------------------------------------------- the models end to end (fp32, CPU)

// The model a case runs on: Lingshu for its cases, the fetch limits as --min_pixels / --max_pixels.
std::unique_ptr<qwen2_vl::QwenVlModel> model_for(const std::string& kind, const std::string& dir,
                                                 const std::string& name, const nlohmann::json& c) {
  if (name.rfind("lingshu", 0) == 0)
    return std::make_unique<qwen2_vl::QwenVlModel>(fp32_spec(dir, "Lingshu"), qwen2_vl::Flavor::kLingshu);
  nlohmann::json options = nlohmann::json::object();
  for (const char* k : {"min_pixels", "max_pixels"})
    if (c.at("fetch").contains(k)) options[k] = c.at("fetch").at(k);
  const bool v25 = kind == "qwen2_5_vl";
  return std::make_unique<qwen2_vl::QwenVlModel>(fp32_spec(dir, v25 ? "Qwen25-VL" : "Qwen2-VL", options),
                                                 v25 ? qwen2_vl::Flavor::kQwen25VL : qwen2_vl::Flavor::kQwen2VL);
}

// Logits of one case against transformers' (the whole prompt for "vqa", the last position otherwise).
double logits_diff(qwen2_vl::QwenVlModel& model, const qwen2_vl::QwenVlModel::Input& in, const ExpectedOutputs& e,
                   const std::string& name) {
  const at::Tensor ours = model.forward_logits(in);
  const at::Tensor lib = e.output(name + ".logits");
  return lib.dim() == 3 ? max_abs_diff(ours, lib[0]) : max_abs_diff(ours[-1], lib[0]);
}

TEST_P(QwenFixture, ForwardLogitsAndGeneratedIdsMatchTransformers) {
  const std::string kind = GetParam(), dir = fixture_dir(kind);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  const auto tok = text::load_tokenizer(dir);
  double worst = 0;
  for (const auto& [name, c] : fx.at("cases").items()) {
    SCOPED_TRACE(name);
    auto model = model_for(kind, dir, name, c);
    GenerationRequest r = prompt_images_request(c);
    const auto in = model->process(r);
    EXPECT_EQ(in.input_ids, ids_of(e.input(name + ".input_ids")));
    const double d = logits_diff(*model, in, e, name);
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4);
    // generate(max_new_tokens=32) with the generation_config in force (sampling with top_k 1 after the
    // repetition penalty over the prompt's ids, image pads included).
    r.max_new_tokens = 32;
    const std::vector<int64_t> ids = model->generate_ids({r}).at(0);
    EXPECT_EQ(ids, ids_of(e.output(name + ".generated_ids")));
    std::vector<int32_t> ids32(ids.begin(), ids.end());
    std::string answer = tok->decode(ids32, true, false);
    answer.erase(0, answer.find_first_not_of(" \t\n\r"));
    answer.erase(answer.find_last_not_of(" \t\n\r") + 1);
    EXPECT_EQ(answer, c.at("answer").get<std::string>());
  }
  std::cout << kind << " logits max |diff| " << worst << "\n";
}

// A left-padded batch (prompts of different lengths, one and two images) gives each request the ids
// transformers generates for it alone: M-RoPE positions and the repetition penalty per row.
TEST_P(QwenFixture, LeftPaddedBatchEqualsOneByOne) {
  const std::string kind = GetParam(), dir = fixture_dir(kind);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  auto model = model_for(kind, dir, "vqa", fx.at("cases").at("vqa"));
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
}

// The GenerativeModel API the runner calls (LocalVlm::generate): answers decoded as the reference
// decodes them (skip_special_tokens, no clean-up, stripped), prompt and token counts in the row.
TEST_P(QwenFixture, GenerateReturnsTheReferenceAnswers) {
  const std::string kind = GetParam(), dir = fixture_dir(kind);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  auto model = model_for(kind, dir, "vqa", fx.at("cases").at("vqa"));
  std::vector<GenerationRequest> batch;
  const std::vector<std::string> names = {"vqa", "caption", "multi"};
  for (const auto& n : names) {
    batch.push_back(prompt_images_request(fx.at("cases").at(n)));
    batch.back().max_new_tokens = 32;
  }
  batch.push_back(prompt_images_request(fx.at("cases").at("vqa")));
  batch.back().images = {ImageRef::file("/nonexistent/image.png")};  // that request alone fails
  const auto out = model->generate(batch);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    const auto& c = fx.at("cases").at(names[i]);
    EXPECT_EQ(out[i].error, "");
    EXPECT_EQ(out[i].text, c.at("answer").get<std::string>());
    EXPECT_EQ(out[i].prompt_tokens, e.input(names[i] + ".input_ids").size(1));
    EXPECT_EQ(out[i].completion_tokens, c.at("new_tokens").get<int64_t>());
    EXPECT_NE(out[i].extra.at("prompt").get<std::string>().find("<|im_start|>system\nYou are a helpful assistant."),
              std::string::npos);
  }
  EXPECT_NE(out.back().error.find("/nonexistent/image.png"), std::string::npos) << out.back().error;
}

// The Hub layout: model.layers.* / visual.* / lm_head.* beside a transformers-4 style config.json.
TEST_P(QwenFixture, PublishedLayoutLoadsToTheSameLogits) {
  const std::string kind = GetParam(), dir = fixture_dir(kind);
  TempDir tmp;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string n = f.path().filename().string();
    if (f.is_regular_file() && n != "config.json" && n != "model.safetensors" && n != "expected.safetensors")
      std::filesystem::copy_file(f.path(), tmp / n);
  }
  std::filesystem::copy_file(io::join_path(dir, "published/config.json"), tmp / "config.json");
  const io::StateDict sd = io::StateDict::open(io::join_path(dir, "model.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> renamed;
  for (const auto& n : sd.names()) {
    std::string h = n;
    if (h.rfind("model.language_model.", 0) == 0) h = "model." + h.substr(21);
    if (h.rfind("model.visual.", 0) == 0) h = h.substr(6);
    renamed.emplace_back(h, sd.get(n));
  }
  io::write_safetensors(tmp / "model.safetensors", renamed);
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  auto model = model_for(kind, tmp.path(), "vqa", fx.at("cases").at("vqa"));
  const auto in = model->process(prompt_images_request(fx.at("cases").at("vqa")));
  EXPECT_LE(logits_diff(*model, in, e, "vqa"), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Tiny, QwenFixture, ::testing::Values("qwen2_vl", "qwen2_5_vl"));

// bf16 (the reference's dtype for the 7B checkpoints) runs the same code path: vision in bf16 with fp32
// rotary and softmax, the decoder in bf16; logits stay near transformers' fp32 ones.
TEST(Qwen2VLModel, Bf16StaysNearFp32) {
  const std::string dir = fixture_dir("qwen2_5_vl");
  const nlohmann::json fx = io::read_json(io::join_path(dir, "fixture.json"));
  const ExpectedOutputs e = read_expected(dir);
  ModelSpec spec = fp32_spec(dir, "Qwen25-VL");
  spec.dtype = "bf16";
  qwen2_vl::QwenVlModel model(spec, qwen2_vl::Flavor::kQwen25VL);
  const auto in = model.process(prompt_images_request(fx.at("cases").at("vqa")));
  EXPECT_EQ(in.chunks[1].embeds.scalar_type(), at::kBFloat16);
  const at::Tensor lib = e.output("vqa.logits")[0];
  const double d = logits_diff(model, in, e, "vqa");
  std::cout << "bf16 logits max |diff| " << d << " (logits max |value| " << lib.abs().max().item<double>() << ")\n";
  EXPECT_LE(d, 0.05 * lib.abs().max().item<double>());
}

TEST(Qwen2VLModel, RegistryAndClearErrors) {
  for (const char* n : {"Qwen2-VL", "Qwen25-VL", "Lingshu"}) {
    const auto* entry = model_registry().find(n);
    ASSERT_NE(entry, nullptr) << n;
    EXPECT_EQ(entry->family, "generative");
    EXPECT_EQ(entry->tasks, (std::vector<std::string>{"vqa", "caption"}));
  }
  // A Qwen2.5-VL folder under the Qwen2-VL name (and the reverse) says which name to use.
  EXPECT_THROW(qwen2_vl::QwenVlModel(fp32_spec(fixture_dir("qwen2_5_vl"), "Qwen2-VL"), qwen2_vl::Flavor::kQwen2VL),
               UsageError);
  EXPECT_THROW(qwen2_vl::QwenVlModel(fp32_spec(fixture_dir("qwen2_vl"), "Lingshu"), qwen2_vl::Flavor::kLingshu),
               UsageError);
  EXPECT_THROW(qwen2_vl::QwenVlModel(fp32_spec("/nonexistent", "Qwen2-VL"), qwen2_vl::Flavor::kQwen2VL), UsageError);
  EXPECT_THROW(qwen2_vl::QwenVlModel(fp32_spec(fixture_dir("qwen2_vl"), "Qwen2-VL", {{"max_pixels", "lots"}}),
                                     qwen2_vl::Flavor::kQwen2VL),
               UsageError);
  // Lingshu's defaults: 128 new tokens, the checkpoint's sampling settings; a request overrides them.
  qwen2_vl::QwenVlModel lingshu(fp32_spec(fixture_dir("qwen2_5_vl"), "Lingshu"), qwen2_vl::Flavor::kLingshu);
  GenerationRequest r;
  auto g = lingshu.generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 128);
  EXPECT_TRUE(g.do_sample);
  EXPECT_EQ(g.top_k, 1);
  EXPECT_DOUBLE_EQ(g.repetition_penalty, 1.05);
  r.max_new_tokens = 7;
  r.temperature = 0.0;
  g = lingshu.generation_config(r);
  EXPECT_EQ(g.max_new_tokens, 7);
  EXPECT_FALSE(g.do_sample);
  qwen2_vl::QwenVlModel qwen(fp32_spec(fixture_dir("qwen2_vl"), "Qwen2-VL"), qwen2_vl::Flavor::kQwen2VL);
  EXPECT_EQ(qwen.generation_config(GenerationRequest{}).max_new_tokens, 512);
  EXPECT_EQ(lingshu.image_config().resized_height, 224);
}

}  // namespace
}  // namespace mvb::test
