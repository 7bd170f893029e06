// XrayGPT against the reference's own code: the tiny MiniGPT-4 checkpoint and outputs of
// tests/oracles/models/make_xraygpt_fixtures.py (model/xraygpt.py's XrayGPT wrapper over the vendored
// MiniGPT-4, run on CPU in float32 with its two crashes fixed; see the fixture's fixture.json).
#include "medvlmbench/models/xraygpt/xraygpt.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/blip2/blip2.h"
#include "medvlmbench/models/model.h"
#include "models/support/generative_fixtures.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string fixture_dir() { return fixture_path("models/xraygpt"); }

ModelSpec spec_for(const std::string& dir) { return fp32_spec(dir, "XrayGPT"); }

GenerationRequest request_for(const nlohmann::json& c) {
  GenerationRequest r;
  r.prompt = c.at("question").get<std::string>();
  r.images = {ImageRef::file(io::join_path(source_dir(), c.at("image").get<std::string>()))};
  return r;
}

// One shared model: loading is the slow part of these tests.
xraygpt::XrayGptModel& model() {
  static xraygpt::XrayGptModel m(spec_for(fixture_dir()));
  return m;
}

TEST(XrayGpt, PixelsPromptIdsModulesLogitsAndGreedyIdsMatchTheReference) {
  const nlohmann::json fx = io::read_json(io::join_path(fixture_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(fixture_dir());
  auto& m = model();
  double worst_logits = 0, worst_inputs = 0;
  for (const char* name : {"vqa", "caption"}) {
    SCOPED_TRACE(name);
    const std::string n = name;
    const auto& c = fx.at("cases").at(name);
    GenerationRequest r = request_for(c);
    const auto in = m.process(r);
    EXPECT_EQ(in.prompt_text, c.at("prompt").get<std::string>());
    EXPECT_EQ(max_abs_diff(in.pixel_values, e.input(n + ".pixel_values")), 0.0)
        << "pixel_values differ from Blip2ImageEvalProcessor's";
    EXPECT_EQ(in.before_ids, ids_of(e.input(n + ".before_ids")));
    EXPECT_EQ(in.after_ids, ids_of(e.input(n + ".after_ids")));
    at::NoGradGuard no_grad;
    const at::Tensor px = in.pixel_values.unsqueeze(0);
    const at::Tensor vis = m.net()->image_embeds(px);
    EXPECT_LE(max_abs_diff(vis, e.output(n + ".image_embeds")), 1e-4);
    const at::Tensor q = blip2::query_features(m.net()->qformer, m.net()->query_tokens, vis);
    EXPECT_LE(max_abs_diff(q, e.output(n + ".query_output")), 1e-4);
    const double di = max_abs_diff(m.net()->encode_img(px), e.output(n + ".inputs_llama"));
    worst_inputs = std::max(worst_inputs, di);
    EXPECT_LE(di, 1e-4);
    // BOS + before + 32 queries + after: the positions the reference's inputs_embeds held.
    EXPECT_EQ(1 + in.before_ids.size() + 32 + in.after_ids.size(), c.at("prompt_positions").get<size_t>());
    const std::vector<int64_t> greedy = ids_of(e.output(n + ".generated_ids"));
    const at::Tensor ref_logits = e.output(n + ".logits");
    const at::Tensor logits = m.forward_logits(in, std::vector<int64_t>(greedy.begin(), greedy.end() - 1));
    const double dl = max_abs_diff(logits.slice(0, logits.size(0) - ref_logits.size(0)), ref_logits);
    worst_logits = std::max(worst_logits, dl);
    EXPECT_LE(dl, 1e-4);
    r.max_new_tokens = 32;
    r.temperature = 0.0;  // greedy
    EXPECT_EQ(m.generate_ids({r}).at(0), greedy);
    const auto out = m.generate({r}).at(0);
    EXPECT_EQ(out.error, "");
    EXPECT_EQ(out.text, c.at("answer").get<std::string>());  // the wrapper's decode and clean-up
    EXPECT_EQ(out.completion_tokens, 32);
    EXPECT_EQ(out.prompt_tokens, c.at("prompt_positions").get<int64_t>());
  }
  std::cout << "[measured] xraygpt logits max |diff| " << worst_logits << ", inputs_llama " << worst_inputs << "\n";
}

// Requests of different prompt lengths in one left-padded batch give what each gives alone.
TEST(XrayGpt, LeftPaddedBatchEqualsSingleRequests) {
  const nlohmann::json fx = io::read_json(io::join_path(fixture_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(fixture_dir());
  std::vector<GenerationRequest> batch;
  for (const char* n : {"vqa", "caption"}) {
    batch.push_back(request_for(fx.at("cases").at(n)));
    batch.back().max_new_tokens = 32;
    batch.back().temperature = 0.0;
  }
  const auto ids = model().generate_ids(batch);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], ids_of(e.output("vqa.generated_ids")));
  EXPECT_EQ(ids[1], ids_of(e.output("caption.generated_ids")));
}

// The reference samples (top_p 0.9, temperature 1, top_k 50 from transformers' defaults, 300 tokens):
// a request's seed makes it reproducible, and other seeds draw other tokens.
TEST(XrayGpt, SamplingIsTheReferencesAndReproducibleBySeed) {
  auto& m = model();
  const nlohmann::json fx = io::read_json(io::join_path(fixture_dir(), "fixture.json"));
  const auto g = m.generation_config(GenerationRequest{});
  EXPECT_TRUE(g.do_sample);
  EXPECT_EQ(g.max_new_tokens, 300);
  EXPECT_DOUBLE_EQ(g.top_p, 0.9);
  EXPECT_DOUBLE_EQ(g.temperature, 1.0);
  EXPECT_EQ(g.top_k, 50);
  EXPECT_EQ(g.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_EQ(g.stop_strings, std::vector<std::string>{"###"});
  const auto& kw = fx.at("cases").at("vqa").at("reference_generate_kwargs");
  EXPECT_EQ(kw.at("max_new_tokens").get<int>(), g.max_new_tokens);
  EXPECT_EQ(kw.at("top_p").get<double>(), g.top_p);
  GenerationRequest r = request_for(fx.at("cases").at("vqa"));
  r.max_new_tokens = 12;
  std::vector<GenerationRequest> seeds;
  for (uint64_t s : {7u, 7u, 8u, 9u}) {
    seeds.push_back(r);
    seeds.back().seed = s;
  }
  const auto ids = m.generate_ids(seeds);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_TRUE(ids[0] != ids[2] || ids[0] != ids[3]);
  EXPECT_EQ(m.generate_ids({seeds[0]}).at(0), ids[0]);  // independent of the batch
}

TEST(XrayGpt, CleanUpIsTheWrappersSplitAndStrip) {
  const nlohmann::json fx = io::read_json(io::join_path(fixture_dir(), "fixture.json"));
  for (const auto& c : fx.at("cleanup_cases"))
    EXPECT_EQ(xraygpt::clean_answer(c[0].get<std::string>()), c[1].get<std::string>()) << c[0];
  // Python's strip() removes Unicode whitespace (here U+3000 and U+00A0) and \x1c-\x1f.
  EXPECT_EQ(xraygpt::clean_answer("\xe3\x80\x80\x1f ok \xc2\xa0"), "ok");
  // A leading <unk> and then a leading <s> are dropped; later special tokens stay in the text.
  auto& m = model();
  const auto& tok = m.tokenizer();
  const auto a = tok.encode("lungs", false);
  std::vector<int64_t> ids(a.begin(), a.end());
  const std::string plain = m.decode_answer(ids);
  std::vector<int64_t> lead{0, 1};
  lead.insert(lead.end(), ids.begin(), ids.end());
  EXPECT_EQ(m.decode_answer(lead), plain);
  lead.push_back(2);
  EXPECT_EQ(m.decode_answer(lead), plain + "</s>");
}

// The folder layout: every file is named in the error that says it is missing, and every parameter
// must come from one of the files (the reference would run with random weights instead).
TEST(XrayGpt, MissingFilesAndTensorsAreNamed) {
  auto copy_fixture = [](const TempDir& tmp) {
    std::filesystem::copy(fixture_dir(), tmp.path(), std::filesystem::copy_options::recursive);
  };
  auto error_of = [](const std::string& dir) -> std::string {
    try {
      xraygpt::XrayGptModel m(spec_for(dir));
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  {
    TempDir tmp;
    copy_fixture(tmp);
    std::filesystem::remove(tmp / "eva_vit_g.pth");
    const std::string err = error_of(tmp.path());
    EXPECT_NE(err.find("eva_vit_g.pth"), std::string::npos) << err;
    EXPECT_NE(err.find("xraygpt_config.json"), std::string::npos) << err;
  }
  {
    TempDir tmp;
    copy_fixture(tmp);
    std::filesystem::remove_all(tmp / "Vicuna_Radiology_fp16");
    const std::string err = error_of(tmp.path());
    EXPECT_NE(err.find("Vicuna_Radiology_fp16"), std::string::npos) << err;
  }
  {
    // A Q-Former file without query_tokens, named through xraygpt_config.json.
    TempDir tmp;
    copy_fixture(tmp);
    const io::StateDict sd = io::StateDict::open(tmp / "blip2_pretrained_flant5xxl.pth");
    std::vector<std::pair<std::string, at::Tensor>> kept;
    for (const auto& n : sd.names())
      if (n != "query_tokens") kept.emplace_back(n, sd.get(n));
    io::write_safetensors(tmp / "qformer.safetensors", kept);
    nlohmann::json cfg = io::read_json(tmp / "xraygpt_config.json");
    cfg["q_former"] = "qformer.safetensors";
    io::write_json_atomic(tmp / "xraygpt_config.json", cfg);
    const std::string err = error_of(tmp.path());
    EXPECT_NE(err.find("query_tokens"), std::string::npos) << err;
    EXPECT_NE(err.find("qformer.safetensors"), std::string::npos) << err;
  }
  {
    TempDir tmp;
    copy_fixture(tmp);
    nlohmann::json cfg = io::read_json(tmp / "xraygpt_config.json");
    cfg["vison"] = nlohmann::json::object();
    io::write_json_atomic(tmp / "xraygpt_config.json", cfg);
    EXPECT_THROW(xraygpt::XrayGptModel(spec_for(tmp.path())), Error);
  }
}

TEST(XrayGpt, NamesMapFromMiniGpt4AndLavis) {
  EXPECT_EQ(xraygpt::module_name("cls_token", true), "vision_model.embeddings.class_embedding");
  EXPECT_EQ(xraygpt::module_name("blocks.3.attn.proj.weight", true),
            "vision_model.encoder.layers.3.self_attn.projection.weight");
  EXPECT_EQ(xraygpt::module_name("visual_encoder.blocks.0.attn.q_bias"),
            "vision_model.encoder.layers.0.self_attn.q_bias");
  EXPECT_EQ(xraygpt::module_name("ln_vision.bias"), "vision_model.post_layernorm.bias");
  EXPECT_EQ(xraygpt::module_name("Qformer.bert.encoder.layer.10.crossattention.self.key.weight"),
            "qformer.encoder.layer.10.crossattention.attention.key.weight");
  EXPECT_EQ(xraygpt::module_name("Qformer.bert.encoder.layer.1.output_query.LayerNorm.bias"),
            "qformer.encoder.layer.1.output_query.LayerNorm.bias");
  EXPECT_EQ(xraygpt::module_name("Qformer.bert.embeddings.LayerNorm.weight"), "qformer.layernorm.weight");
  // What MiniGPT-4 sets to None, and the BLIP-2 heads it never builds.
  EXPECT_EQ(xraygpt::module_name("Qformer.bert.encoder.layer.1.output.dense.weight"), std::nullopt);
  EXPECT_EQ(xraygpt::module_name("Qformer.bert.embeddings.word_embeddings.weight"), std::nullopt);
  EXPECT_EQ(xraygpt::module_name("Qformer.cls.predictions.bias"), std::nullopt);
  EXPECT_EQ(xraygpt::module_name("itm_head.weight"), std::nullopt);
  const auto d = model().describe();
  EXPECT_EQ(d.at("model"), "XrayGPT");
  EXPECT_EQ(d.at("fixed_quirks").size(), 3u);
  EXPECT_GT(d.at("ignored_checkpoint_tensors").get<int64_t>(), 0);
}

// bf16 runs the LLaMA and llama_proj in bf16 with the EVA ViT, ln_vision and the Q-Former in float32
// (the reference: ViT and ln_vision in fp32 on the CPU, the LLaMA in fp16); logits stay near fp32's.
TEST(XrayGpt, Bf16KeepsTheVisionSideInFloat32) {
  const nlohmann::json fx = io::read_json(io::join_path(fixture_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(fixture_dir());
  ModelSpec spec = spec_for(fixture_dir());
  spec.dtype = "bf16";
  xraygpt::XrayGptModel m(spec);
  EXPECT_EQ(m.net()->vision_model->post_layernorm->weight.scalar_type(), at::kFloat);
  EXPECT_EQ(m.net()->qformer->layernorm->weight.scalar_type(), at::kFloat);
  EXPECT_EQ(m.net()->query_tokens.scalar_type(), at::kFloat);
  EXPECT_EQ(m.net()->llama_proj->weight.scalar_type(), at::kBFloat16);
  const auto in = m.process(request_for(fx.at("cases").at("vqa")));
  const std::vector<int64_t> greedy = ids_of(e.output("vqa.generated_ids"));
  const at::Tensor logits = m.forward_logits(in, std::vector<int64_t>(greedy.begin(), greedy.end() - 1));
  const at::Tensor ref = e.output("vqa.logits");
  const double d = max_abs_diff(logits.slice(0, logits.size(0) - ref.size(0)), ref);
  std::cout << "[measured] xraygpt bf16 logits max |diff| " << d << "\n";
  EXPECT_LE(d, 0.25 * ref.abs().max().item<double>());
}

}  // namespace
}  // namespace mvb::test
