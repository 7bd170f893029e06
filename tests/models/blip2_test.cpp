// BLIP-2 against transformers 5.23: the tiny checkpoints and outputs of
// tests/oracles/models/make_blip2_fixtures.py (tests/fixtures/models/blip2/opt: Blip2ForConditionalGeneration
// with OPT; tests/fixtures/models/blip2/itm: Blip2ForImageTextRetrieval, the reference's diagnosis backbone).
#include "medvlmbench/models/blip2/blip2.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/text/tokenizer.h"
#include "medvlmbench/vision/image.h"
#include "models/support/generative_fixtures.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string opt_dir() { return fixture_path("models/blip2/opt"); }
std::string itm_dir() { return fixture_path("models/blip2/itm"); }

ModelSpec spec_for(const std::string& dir, const nlohmann::json& options = {}) {
  return fp32_spec(dir, "BLIP2-2.7b", options);
}

ImageRef image(const std::string& repo_path) { return ImageRef::file(io::join_path(source_dir(), repo_path)); }

// The question of a case: the fixture's prompt is "Question: {q} Answer:".
GenerationRequest request_for(const nlohmann::json& c) {
  std::string p = c.at("prompt").get<std::string>();
  GenerationRequest r;
  r.prompt = p.substr(10, p.size() - 10 - 8);
  r.images = {image(c.at("image").get<std::string>())};
  return r;
}

std::string strip(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\n\r"));
  s.erase(s.find_last_not_of(" \t\n\r") + 1);
  return s;
}

TEST(Blip2Generation, PixelsIdsModulesLogitsAndGreedyIdsMatchTransformers) {
  const nlohmann::json fx = io::read_json(io::join_path(opt_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(opt_dir());
  blip2::Blip2Model model(spec_for(opt_dir()));
  const auto tok = text::load_tokenizer(opt_dir());
  double worst_logits = 0, worst_embeds = 0;
  for (const char* name : {"vqa", "caption"}) {
    SCOPED_TRACE(name);
    const auto& c = fx.at("cases").at(name);
    GenerationRequest r = request_for(c);
    const auto in = model.process(r);
    EXPECT_EQ(in.prompt_text, c.at("prompt").get<std::string>());
    EXPECT_EQ(max_abs_diff(in.pixel_values, e.input(std::string(name) + ".pixel_values")[0]), 0.0)
        << "pixel_values differ from BlipImageProcessor's";
    EXPECT_EQ(in.input_ids, ids_of(e.input(std::string(name) + ".input_ids")));
    at::NoGradGuard no_grad;
    const at::Tensor px = in.pixel_values.unsqueeze(0);
    const at::Tensor vis = model.net()->image_embeds(px);
    EXPECT_LE(max_abs_diff(vis, e.output(std::string(name) + ".vision_last_hidden_state")), 1e-4);
    const at::Tensor q = blip2::query_features(model.net()->qformer, model.net()->query_tokens, vis);
    EXPECT_LE(max_abs_diff(q, e.output(std::string(name) + ".query_output")), 1e-4);
    const double de = max_abs_diff(model.net()->language_inputs(px), e.output(std::string(name) + ".image_embeds"));
    worst_embeds = std::max(worst_embeds, de);
    EXPECT_LE(de, 1e-4);
    const double dl = max_abs_diff(model.forward_logits(in), e.output(std::string(name) + ".logits")[0]);
    worst_logits = std::max(worst_logits, dl);
    EXPECT_LE(dl, 1e-4);
    r.max_new_tokens = 32;
    const std::vector<int64_t> ids = model.generate_ids({r}).at(0);
    EXPECT_EQ(ids, ids_of(e.output(std::string(name) + ".generated_ids")));
    std::vector<int32_t> ids32(ids.begin(), ids.end());
    EXPECT_EQ(strip(tok->decode(ids32, true)), c.at("answer").get<std::string>());
  }
  std::cout << "blip2 logits max |diff| " << worst_logits << ", image embeds " << worst_embeds << "\n";
}

// Two requests of different prompt lengths in one left-padded batch give what transformers generates
// for that padded batch (OPT's positions from the mask), and each the same as alone.
TEST(Blip2Generation, LeftPaddedBatchMatchesTransformers) {
  const nlohmann::json fx = io::read_json(io::join_path(opt_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(opt_dir());
  blip2::Blip2Model model(spec_for(opt_dir()));
  const auto& b = fx.at("cases").at("batch");
  std::vector<GenerationRequest> batch;
  for (size_t i = 0; i < 2; ++i) {
    GenerationRequest r;
    const std::string p = b.at("prompts")[i].get<std::string>();
    r.prompt = p.substr(10, p.size() - 18);
    r.images = {image(b.at("images")[i].get<std::string>())};
    r.max_new_tokens = 32;
    batch.push_back(r);
  }
  const auto ids = model.generate_ids(batch);
  const at::Tensor lib = e.output("batch.generated_ids");
  ASSERT_EQ(ids.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ids[i], ids_of(lib[i])) << i;
    EXPECT_EQ(model.generate_ids({batch[i]}).at(0), ids[i]) << i;
  }
}

// LocalVlm::generate: the clean answer by default; the reference's string (prompt echoed) behind
// --reference_compat blip2_prompt_echo, with the clean answer kept in extra["answer_only"].
TEST(Blip2Generation, AnswerIsCleanByDefaultAndEchoesThePromptUnderReferenceCompat) {
  const nlohmann::json fx = io::read_json(io::join_path(opt_dir(), "fixture.json"));
  std::vector<GenerationRequest> batch;
  for (const char* n : {"vqa", "caption"}) {
    batch.push_back(request_for(fx.at("cases").at(n)));
    batch.back().max_new_tokens = 32;
  }
  batch.push_back(batch.front());
  batch.back().images = {ImageRef::file("/nonexistent/image.png")};  // that request alone fails
  blip2::Blip2Model clean(spec_for(opt_dir()));
  const auto a = clean.generate(batch);
  blip2::Blip2Model echo(spec_for(opt_dir(), {{"reference_compat", {"blip2_prompt_echo"}}}));
  const auto b = echo.generate(batch);
  for (size_t i = 0; i < 2; ++i) {
    const auto& c = fx.at("cases").at(i == 0 ? "vqa" : "caption");
    EXPECT_EQ(a[i].error, "");
    EXPECT_EQ(a[i].text, c.at("answer").get<std::string>());
    EXPECT_EQ(a[i].prompt_tokens, c.at("prompt_tokens").get<int64_t>());
    EXPECT_EQ(a[i].completion_tokens, 32);
    EXPECT_EQ(b[i].text, c.at("reference_answer").get<std::string>());
    EXPECT_EQ(b[i].extra.at("answer_only").get<std::string>(), a[i].text);
  }
  EXPECT_NE(a.back().error.find("/nonexistent/image.png"), std::string::npos) << a.back().error;
  EXPECT_EQ(clean.describe().at("reference_compat"), nlohmann::json::array());
  EXPECT_EQ(echo.describe().at("reference_compat"), nlohmann::json({"blip2_prompt_echo"}));
  EXPECT_EQ(clean.generation_config(GenerationRequest{}).max_new_tokens, 768);
  EXPECT_THROW(blip2::Blip2Model(spec_for(opt_dir(), {{"reference_compat", {"llava_double_preprocess"}}})), UsageError);
}

// The Hub's transformers-4 layout: self_attn.q_bias / v_bias instead of qkv.bias, the tied
// language_model.lm_head.weight saved, the Q-Former's unused text FFN saved; preprocessor_config.json.
TEST(Blip2Generation, PublishedLayoutLoadsToTheSameLogits) {
  TempDir tmp;
  for (const auto& f : std::filesystem::directory_iterator(opt_dir())) {
    const std::string n = f.path().filename().string();
    if (f.is_regular_file() && n != "model.safetensors" && n != "expected.safetensors" && n != "processor_config.json")
      std::filesystem::copy_file(f.path(), tmp / n);
  }
  const nlohmann::json proc = io::read_json(io::join_path(opt_dir(), "processor_config.json"));
  io::write_json_atomic(tmp / "preprocessor_config.json", proc.at("image_processor"));
  const io::StateDict sd = io::StateDict::open(io::join_path(opt_dir(), "model.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> renamed;
  for (const auto& n : sd.names()) {
    const at::Tensor t = sd.get(n);
    const std::string suffix = "self_attn.qkv.bias";
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string stem = n.substr(0, n.size() - std::string("qkv.bias").size());
      const int64_t d = t.size(0) / 3;
      renamed.emplace_back(stem + "q_bias", t.narrow(0, 0, d).clone());
      renamed.emplace_back(stem + "v_bias", t.narrow(0, 2 * d, d).clone());
      continue;
    }
    renamed.emplace_back(n, t);
    if (n == "language_model.model.decoder.embed_tokens.weight")
      renamed.emplace_back("language_model.lm_head.weight", t.clone());
    if (n.rfind("qformer.encoder.layer.0.output_query.dense.", 0) == 0)  // a text FFN transformers ignores
      renamed.emplace_back("qformer.encoder.layer.0.output." + n.substr(n.rfind("dense.")), t.clone());
  }
  io::write_safetensors(tmp / "model.safetensors", renamed);
  const nlohmann::json fx = io::read_json(io::join_path(opt_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(opt_dir());
  blip2::Blip2Model model(spec_for(tmp.path()));
  const auto in = model.process(request_for(fx.at("cases").at("vqa")));
  EXPECT_LE(max_abs_diff(model.forward_logits(in), e.output("vqa.logits")[0]), 1e-4);
}

// bf16 runs the vision tower and OPT in bf16 with the Q-Former in float32 (transformers'
// _keep_in_fp32_modules); logits stay near the fp32 ones.
TEST(Blip2Generation, Bf16KeepsTheQFormerInFloat32) {
  const nlohmann::json fx = io::read_json(io::join_path(opt_dir(), "fixture.json"));
  const ExpectedOutputs e = read_expected(opt_dir());
  ModelSpec spec = spec_for(opt_dir());
  spec.dtype = "bf16";
  blip2::Blip2Model model(spec);
  EXPECT_EQ(model.net()->qformer->layernorm->weight.scalar_type(), at::kFloat);
  EXPECT_EQ(model.net()->query_tokens.scalar_type(), at::kFloat);
  EXPECT_EQ(model.net()->language_model->decoder->embed_tokens->weight.scalar_type(), at::kBFloat16);
  const auto in = model.process(request_for(fx.at("cases").at("vqa")));
  const at::Tensor lib = e.output("vqa.logits")[0];
  const double d = max_abs_diff(model.forward_logits(in), lib);
  std::cout << "bf16 logits max |diff| " << d << " (max |logit| " << lib.abs().max().item<double>() << ")\n";
  EXPECT_LE(d, 0.05 * lib.abs().max().item<double>());
}

TEST(Blip2Generation, RegistryAndClearErrors) {
  const ModelEntry gen = model_registry().get("BLIP2-2.7b").for_task("vqa");
  EXPECT_EQ(gen.family, "generative");
  EXPECT_EQ(gen.default_checkpoint, "Salesforce/blip2-opt-2.7b");
  const ModelEntry diag = model_registry().get("blip2-2.7b").for_task("diagnosis");
  EXPECT_EQ(diag.family, "contrastive");
  EXPECT_EQ(diag.default_checkpoint, "Salesforce/blip2-itm-vit-g");
  EXPECT_THROW(blip2::Blip2Model(spec_for("/nonexistent")), UsageError);
  // An image-text retrieval checkpoint has no language model.
  EXPECT_THROW(blip2::Blip2Model(spec_for(itm_dir())), UsageError);
  // OPT's project_in / project_out (word_embed_proj_dim != hidden_size) is refused by name.
  nlohmann::json t = io::read_json(io::join_path(opt_dir(), "config.json")).at("text_config");
  t["word_embed_proj_dim"] = 16;
  try {
    opt::OptConfig::from_json(t, "config.json");
    ADD_FAILURE() << "word_embed_proj_dim accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("word_embed_proj_dim"), std::string::npos) << err.what();
  }
  // So are post-LN OPT and a Flan-T5 language model.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"do_layer_norm_before", false}, {"model_type", "t5"}}) {
    nlohmann::json bad = io::read_json(io::join_path(opt_dir(), "config.json")).at("text_config");
    bad[key] = value;
    try {
      opt::OptConfig::from_json(bad, "config.json");
      ADD_FAILURE() << key << " accepted";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(key == "model_type" ? "t5" : key), std::string::npos) << err.what();
    }
  }
  // OPT's positions for left padding: cumsum(mask) * mask - 1.
  const at::Tensor pos = opt::positions_from_mask(at::tensor({0, 0, 1, 1, 1}, at::kLong).view({1, 5}));
  EXPECT_EQ(ids_of(pos), (std::vector<int64_t>{-1, -1, 0, 1, 2}));
}

// The diagnosis backbone (Blip2ForImageTextRetrieval): lp features are the vision class token;
// clip-zs scores are the Q-Former ITC's logits_per_image.
TEST(Blip2Diagnosis, LinearProbeFeaturesAndZeroShotLogitsMatchTransformers) {
  const ExpectedOutputs e = read_expected(itm_dir());
  const nlohmann::json fx = io::read_json(io::join_path(itm_dir(), "fixture.json"));
  std::vector<at::Tensor> px;
  ModelSpec lp = spec_for(itm_dir(), {{"usage", "lp"}});
  auto lp_model = make_contrastive_towers(lp);
  for (const auto& p : fx.at("cases").at("images"))
    px.push_back(preprocess(decode_image(image(p.get<std::string>())), lp_model->transform()));
  const at::Tensor pixels = at::stack(px);
  EXPECT_EQ(max_abs_diff(pixels, e.input("pixel_values")), 0.0);
  const double dlp = max_abs_diff(lp_model->encode_image(pixels), e.output("lp_features"));
  EXPECT_LE(dlp, 1e-4);
  EXPECT_EQ(lp_model->embed_dim(), 32);

  auto zs = make_contrastive_towers(spec_for(itm_dir(), {{"usage", "clip-zs"}}));
  std::vector<std::string> prompts;
  for (const auto& p : fx.at("cases").at("prompts")) prompts.push_back(p.get<std::string>());
  const TextBatch tb = zs->tokenize(prompts);
  EXPECT_EQ(ids_of(tb.input_ids), ids_of(e.input("input_ids")));
  EXPECT_EQ(ids_of(tb.attention_mask), ids_of(e.input("attention_mask")));
  const at::Tensor img = zs->encode_image(pixels);  // [N, 32, D]
  const at::Tensor txt = zs->encode_text(prompts);
  EXPECT_LE(max_abs_diff(img / img.norm(2, -1, true), e.output("image_embeds")), 1e-4);
  EXPECT_LE(max_abs_diff(txt / txt.norm(2, -1, true), e.output("text_embeds")), 1e-4);
  // logits_per_image: the largest cosine over the queries (what zero_shot_logits computes for [N, Q, D]
  // features with logit_scale 1, tests/cli/blip2_eval_test.cpp runs it).
  EXPECT_EQ(zs->logit_scale(), 1.0);
  const at::Tensor in = img / img.norm(2, -1, true), tn = txt / txt.norm(2, -1, true);
  const at::Tensor logits = std::get<0>(at::matmul(in, tn.t()).max(1));
  const double dz = max_abs_diff(logits, e.output("logits_per_image"));
  EXPECT_LE(dz, 1e-4);
  std::cout << "blip2 itm lp features max |diff| " << dlp << ", zero-shot logits " << dz << "\n";
  EXPECT_NE(lp_model->fingerprint(), zs->fingerprint());  // the two feature kinds never share a cache
}

TEST(Blip2Diagnosis, ZeroShotOnACheckpointWithoutTheItcHeadsIsRefused) {
  try {
    make_contrastive_towers(spec_for(opt_dir(), {{"usage", "clip-zs"}}));
    ADD_FAILURE() << "clip-zs accepted on Blip2ForConditionalGeneration";
  } catch (const UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("blip2-itm-vit-g"), std::string::npos) << err.what();
  }
  // lp works on it (the vision tower alone).
  auto lp = make_contrastive_towers(spec_for(opt_dir(), {{"usage", "lp"}}));
  const ExpectedOutputs e = read_expected(opt_dir());
  const at::Tensor f = lp->encode_image(e.input("vqa.pixel_values"));
  EXPECT_LE(max_abs_diff(f, e.output("vqa.vision_last_hidden_state").select(1, 0)), 1e-4);
}

}  // namespace
}  // namespace mvb::test
