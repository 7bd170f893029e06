// BLIP and BLIP-2 against transformers 5.23: the tiny checkpoints and outputs of
// tests/oracles/models/make_blip_fixtures.py (tests/fixtures/models/blip).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/blip/model.h"
#include "medvlmbench/models/blip/vision.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/vision/image.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

constexpr double kTol = 1e-4;

std::string blip_dir(const std::string& name) { return fixture_path("models/blip/" + name); }

nlohmann::json config_of(const std::string& dir) { return read_json_file(io::join_path(dir, "config.json")); }

// Runs the tower of `dir` on the fixture's pixels and compares both outputs.
void expect_vision_parity(const std::string& name, blip::VisionModel tower) {
  const ExpectedOutputs e = read_expected(blip_dir(name));
  at::NoGradGuard g;
  const blip::VisionOutput out = tower->forward(e.input("pixel_values"));
  const double d_last = max_abs_diff(out.last_hidden_state, e.output("last_hidden_state"));
  const double d_pool = max_abs_diff(out.pooler_output, e.output("pooler_output"));
  std::printf("[measured] %s vision last_hidden_state %.3g pooler_output %.3g\n", name.c_str(), d_last, d_pool);
  EXPECT_LT(d_last, kTol) << name;
  EXPECT_LT(d_pool, kTol) << name;
}

TEST(BlipVision, BlipVisionModelParity) {
  const std::string dir = blip_dir("vision-blip");
  const auto cfg = blip::VisionConfig::blip(config_of(dir), dir);
  EXPECT_TRUE(cfg.qkv_bias);
  EXPECT_DOUBLE_EQ(cfg.layer_norm_eps, 1e-5);
  expect_vision_parity("vision-blip", blip::load_vision_model(cfg, io::StateDict::open(dir), ""));
}

TEST(BlipVision, Blip2VisionModelParityWithAndWithoutQkvBias) {
  for (const std::string name : {"vision-blip2", "vision-blip2-nobias"}) {
    const std::string dir = blip_dir(name);
    const auto cfg = blip::VisionConfig::blip2(config_of(dir), dir);
    EXPECT_EQ(cfg.qkv_bias, name == "vision-blip2");
    EXPECT_DOUBLE_EQ(cfg.layer_norm_eps, 1e-6);
    blip::VisionModel tower = blip::load_vision_model(cfg, io::StateDict::open(dir), "");
    EXPECT_EQ(tower->typed_layers[0]->self_attn->qkv->bias.defined(), cfg.qkv_bias);
    expect_vision_parity(name, tower);
  }
}

// LAVIS keeps q_bias and v_bias; fused into qkv.bias (zero key part) they give the same tower.
TEST(BlipVision, LavisQkvBiasPairsFuseIntoQkvBias) {
  const std::string dir = blip_dir("vision-blip2");
  const auto cfg = blip::VisionConfig::blip2(config_of(dir), dir);
  nn::TensorMap t = blip::vision_weights(io::StateDict::open(dir), "");
  nn::TensorMap lavis;
  const int64_t d = cfg.hidden_size;
  for (const auto& [name, v] : t) {
    const std::string stem = name.substr(0, name.size() - std::string("qkv.bias").size());
    if (name.size() > 8 && name.compare(name.size() - 8, 8, "qkv.bias") == 0) {
      ASSERT_EQ(v.narrow(0, d, d).abs().max().item<double>(), 0.0) << "the fixture's key bias must be zero";
      lavis[stem + "q_bias"] = v.narrow(0, 0, d).clone();
      lavis[stem + "v_bias"] = v.narrow(0, 2 * d, d).clone();
    } else {
      lavis[name] = v;
    }
  }
  blip::fuse_qkv_bias(lavis, "lavis");
  blip::VisionModel tower(cfg);
  nn::assign_weights(*tower, lavis, "lavis");
  tower->eval();
  expect_vision_parity("vision-blip2", tower);

  nn::TensorMap lone = {{"encoder.layers.0.self_attn.q_bias", at::zeros({d})}};
  EXPECT_THROW(blip::fuse_qkv_bias(lone, "lone.safetensors"), Error);
}

TEST(BlipVision, RefusesWhatItDoesNotImplement) {
  nlohmann::json j = {{"hidden_act", "swiglu_unknown"}};
  EXPECT_THROW(blip::VisionConfig::blip(j, "config.json"), Error);
  j = {{"num_channels", 1}};
  EXPECT_THROW(blip::VisionConfig::blip(j, "config.json"), Error);
  j = {{"image_size", 30}, {"patch_size", 8}};
  EXPECT_THROW(blip::VisionConfig::blip2(j, "config.json"), Error);
  // A wrong image size is refused instead of silently interpolated.
  const std::string dir = blip_dir("vision-blip");
  blip::VisionModel tower =
      blip::load_vision_model(blip::VisionConfig::blip(config_of(dir), dir), io::StateDict::open(dir), "");
  at::NoGradGuard g;
  EXPECT_THROW(tower->forward(at::zeros({1, 3, 48, 48})), Error);
}

// ---------------------------------------------------------------- BLIP VQA

using json = nlohmann::json;

std::vector<int64_t> to_ids(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

ModelSpec blip_spec(const std::string& folder, const std::string& task, const std::string& usage = "",
                    json options = json::object()) {
  ModelSpec spec;
  spec.name = "BLIP";
  spec.model_path = blip_dir(folder);
  spec.dtype = "fp32";
  spec.task = task;
  spec.usage = usage;
  spec.options = options;
  return spec;
}

json vqa_cases() { return read_json_file(io::join_path(blip_dir("vqa"), "cases.json")); }

GenerationRequest request_for(const json& c) {
  GenerationRequest r;
  r.prompt = c["question"].get<std::string>();
  r.images = {ImageRef::file(io::join_path(source_dir(), c["image"].get<std::string>()))};
  return r;
}

TEST(BlipVqa, PixelValuesAndInputIdsMatchTheProcessor) {
  blip::BlipVqaModel m(blip_spec("vqa", "vqa"));
  const ExpectedOutputs e = read_expected(blip_dir("vqa"));
  const json cases = vqa_cases();
  ASSERT_EQ(cases.size(), 4u);
  for (size_t c = 0; c < cases.size(); ++c) {
    const std::string k = std::to_string(c);
    const GenerationRequest r = request_for(cases[c]);
    const at::Tensor px = preprocess(decode_image(r.images[0]), m.transform());
    const double d = max_abs_diff(px, e.input("pixel_values." + k));
    std::printf("[measured] case %zu pixel_values %.3g\n", c, d);
    EXPECT_LT(d, 1e-6) << c;
    EXPECT_EQ(m.question_ids(r.prompt), to_ids(e.input("input_ids." + k))) << c;
  }
}

TEST(BlipVqa, QuestionStatesAndAnswerLogitsMatchTransformers) {
  blip::BlipVqaModel m(blip_spec("vqa", "vqa"));
  const ExpectedOutputs e = read_expected(blip_dir("vqa"));
  const int64_t bos = m.config().text.bos_token_id;
  double worst_q = 0, worst_l = 0;
  for (size_t c = 0; c < vqa_cases().size(); ++c) {
    const std::string k = std::to_string(c);
    const at::Tensor ids = e.input("input_ids." + k).to(at::kLong).unsqueeze(0);
    const at::Tensor q = m.encode_questions(e.input("pixel_values." + k).unsqueeze(0), ids, at::ones_like(ids));
    worst_q = std::max(worst_q, max_abs_diff(q[0], e.output("question_states." + k)));
    const at::Tensor dec = at::cat({at::full({1}, bos, at::kLong), e.output("greedy." + k).to(at::kLong)});
    const at::Tensor logits = m.decoder_logits(q, {}, dec.unsqueeze(0));
    worst_l = std::max(worst_l, max_abs_diff(logits[0], e.output("decoder_logits." + k)));
  }
  std::printf("[measured] question_states %.3g decoder_logits %.3g\n", worst_q, worst_l);
  EXPECT_LT(worst_q, kTol);
  EXPECT_LT(worst_l, kTol);
}

// All cases in one batch (questions of different lengths: padded, masked in the decoder's
// cross-attention) and one at a time give transformers' batch-1 greedy ids and answers.
TEST(BlipVqa, GreedyAnswersMatchTransformersBatchedAndAlone) {
  blip::BlipVqaModel m(blip_spec("vqa", "vqa"));
  const ExpectedOutputs e = read_expected(blip_dir("vqa"));
  const json cases = vqa_cases();
  std::vector<GenerationRequest> reqs;
  for (const auto& c : cases) reqs.push_back(request_for(c));
  std::vector<const GenerationRequest*> all;
  for (const auto& r : reqs) all.push_back(&r);
  const nn::GenerationConfig cfg = m.generation_config(reqs[0]);
  EXPECT_EQ(cfg.max_new_tokens, 63);  // max_length 768, capped by the fixture's 64 positions
  EXPECT_EQ(cfg.eos_token_ids, std::vector<int64_t>{m.config().text.sep_token_id});
  EXPECT_FALSE(cfg.do_sample);

  std::vector<nn::MultimodalInput> inputs;
  for (auto& p : m.prepare(all)) inputs.push_back(p.input);
  const auto batched = nn::generate(m.backend(), inputs, cfg);
  ASSERT_EQ(batched.size(), cases.size());
  for (size_t c = 0; c < cases.size(); ++c) {
    const std::string k = std::to_string(c);
    EXPECT_EQ(batched[c].ids, to_ids(e.output("greedy." + k))) << "batched, case " << c;
    EXPECT_EQ(batched[c].finish_reason, "eos") << c;
    auto alone = nn::generate(m.backend(), {m.prepare({&reqs[c]})[0].input}, cfg);
    EXPECT_EQ(alone[0].ids, to_ids(e.output("greedy." + k))) << "alone, case " << c;
    nn::GenerationConfig three = cfg;
    three.max_new_tokens = 2;  // generate(max_length=3): [DEC] + 2
    auto cut = nn::generate(m.backend(), {m.prepare({&reqs[c]})[0].input}, three);
    EXPECT_EQ(cut[0].ids, to_ids(e.output("greedy_max_length_3." + k))) << "max_length 3, case " << c;
  }
  // The text each answer decodes to (skip_special_tokens, strip), through the model's own entry point.
  const auto results = m.generate(reqs);
  for (size_t c = 0; c < cases.size(); ++c) {
    EXPECT_TRUE(results[c].error.empty()) << results[c].error;
    EXPECT_EQ(results[c].text, cases[c]["answer"].get<std::string>()) << c;
    EXPECT_EQ(results[c].completion_tokens, static_cast<int64_t>(batched[c].ids.size()));
  }
}

TEST(BlipVqa, RefusesWhatItCannotAnswer) {
  // A retrieval checkpoint has no answer decoder.
  try {
    blip::BlipVqaModel m(blip_spec("itm", "vqa"));
    ADD_FAILURE() << "expected a refusal";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("BlipForQuestionAnswering"), std::string::npos) << err.what();
  }
  blip::BlipVqaModel m(blip_spec("vqa", "vqa"));
  GenerationRequest none = request_for(vqa_cases()[0]);
  none.images.clear();
  GenerationRequest two = request_for(vqa_cases()[0]);
  two.images.push_back(two.images[0]);
  const auto r = m.generate({none, request_for(vqa_cases()[1]), two});
  EXPECT_NE(r[0].error.find("one image"), std::string::npos) << r[0].error;
  EXPECT_TRUE(r[1].error.empty()) << r[1].error;
  EXPECT_EQ(r[1].text, vqa_cases()[1]["answer"].get<std::string>());
  EXPECT_NE(r[2].error.find("one image"), std::string::npos) << r[2].error;
  // No reference quirk is reproducible for BLIP.
  EXPECT_THROW(blip::BlipVqaModel(blip_spec("vqa", "vqa", "", {{"reference_compat", {"llava_double_preprocess"}}})),
               UsageError);
}

TEST(BlipVqa, RegisteredForVqaCaptionAndDiagnosis) {
  const ModelEntry& e = model_registry().get("BLIP");
  EXPECT_EQ(e.family, "generative");
  EXPECT_EQ(e.for_task("vqa").default_checkpoint, "Salesforce/blip-vqa-base");
  EXPECT_EQ(e.for_task("diagnosis").family, "contrastive");
  EXPECT_EQ(e.for_task("diagnosis").default_checkpoint, "Salesforce/blip-image-captioning-base");
  std::unique_ptr<Model> vqa = e.factory(blip_spec("vqa", "caption"));
  EXPECT_NE(dynamic_cast<GenerativeModel*>(vqa.get()), nullptr);
  std::unique_ptr<Model> towers = e.factory(blip_spec("vqa", "diagnosis", "lp"));
  EXPECT_NE(dynamic_cast<ContrastiveTowers*>(towers.get()), nullptr);
}

// ---------------------------------------------------------------- BLIP as a diagnosis backbone

TEST(BlipTowers, LpFeaturesAreTheVisionClassToken) {
  // Any BLIP checkpoint serves lp: here the retrieval one, whose class token the fixture recorded.
  blip::BlipTowers t(blip_spec("itm", "diagnosis", "lp"));
  const ExpectedOutputs e = read_expected(blip_dir("itm"));
  EXPECT_FALSE(t.projected());
  EXPECT_EQ(t.embed_dim(), 32);
  const double d = max_abs_diff(t.encode_image(e.input("pixel_values")), e.output("class_token"));
  std::printf("[measured] lp class token %.3g\n", d);
  EXPECT_LT(d, kTol);
  // The same images through the dataset path: decode + the checkpoint's processor.
  const at::Tensor px = preprocess(
      decode_image(ImageRef::file(io::join_path(source_dir(), "tests/fixtures/models/blip/images/wide_41x29.png"))),
      t.transform());
  EXPECT_LT(max_abs_diff(px, e.input("pixel_values")[2]), 1e-6);
  // lp has no text side.
  EXPECT_THROW(t.encode_text({"a photo of x"}), Error);
}

TEST(BlipTowers, ClipZsThroughTheItcHead) {
  blip::BlipTowers t(blip_spec("itm", "diagnosis", "clip-zs"));
  const ExpectedOutputs e = read_expected(blip_dir("itm"));
  ASSERT_EQ(t.head(), blip::BlipTowers::Head::kItc);
  EXPECT_DOUBLE_EQ(t.logit_scale(), 1.0);
  EXPECT_EQ(t.embed_dim(), 16);
  const std::vector<std::string> prompts = {"a photo of chest xray with no finding",
                                            "a photo of chest xray with pneumonia", "a photo of benign retina"};
  EXPECT_EQ(to_ids(t.tokenize(prompts).input_ids), to_ids(e.input("input_ids")));
  const at::Tensor img = t.encode_image(e.input("pixel_values"));
  const at::Tensor txt = t.encode_text(prompts);
  const double d_img = max_abs_diff(img, e.output("image_feat"));
  const double d_txt = max_abs_diff(txt, e.output("text_feat"));
  const double d_itc = max_abs_diff(t.logits_per_image(img, txt), e.output("itc"));
  std::printf("[measured] itc image_feat %.3g text_feat %.3g itc %.3g\n", d_img, d_txt, d_itc);
  EXPECT_LT(d_img, kTol);
  EXPECT_LT(d_txt, kTol);
  EXPECT_LT(d_itc, kTol);
}

TEST(BlipTowers, ClipZsThroughBlipModelProjections) {
  blip::BlipTowers t(blip_spec("blipmodel", "diagnosis", "clip-zs"));
  const ExpectedOutputs e = read_expected(blip_dir("blipmodel"));
  ASSERT_EQ(t.head(), blip::BlipTowers::Head::kBlipModel);
  EXPECT_NEAR(t.logit_scale(), std::exp(2.6592), 1e-4);
  const std::vector<std::string> prompts = {"a photo of chest xray with no finding",
                                            "a photo of chest xray with pneumonia", "a photo of benign retina"};
  const at::Tensor img = t.encode_image(e.input("pixel_values"));
  const at::Tensor txt = t.encode_text(prompts);
  auto unit = [](const at::Tensor& x) { return x / x.norm(2, -1, true); };
  const double d_img = max_abs_diff(unit(img), e.output("image_embeds"));
  const double d_txt = max_abs_diff(unit(txt), e.output("text_embeds"));
  const double d_log = max_abs_diff(t.logits_per_image(img, txt), e.output("logits_per_image"));
  std::printf("[measured] blipmodel image %.3g text %.3g logits_per_image %.3g\n", d_img, d_txt, d_log);
  EXPECT_LT(d_img, kTol);
  EXPECT_LT(d_txt, kTol);
  EXPECT_LT(d_log, kTol);
}

TEST(BlipTowers, ClipZsRefusedWithoutAnImageTextHead) {
  try {
    blip::BlipTowers t(blip_spec("vqa", "diagnosis", "clip-zs"));
    ADD_FAILURE() << "expected a refusal";
  } catch (const UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("no BLIP image-text head"), std::string::npos) << err.what();
  }
  // The same checkpoint serves lp.
  blip::BlipTowers lp(blip_spec("vqa", "diagnosis", "lp"));
  EXPECT_EQ(lp.embed_dim(), 32);
}

TEST(BlipTowers, ImgLoraAdaptsTheVisionTowerLinears) {
  blip::BlipTowers t(blip_spec("itm", "diagnosis", "img-lora-lp"));
  int linears = 0;
  for (const auto& m : t.vision_tower().named_modules())
    if (dynamic_cast<nn::LinearImpl*>(m.value().get()) != nullptr) ++linears;
  EXPECT_EQ(linears, 2 * 4);  // per layer: qkv, projection, fc1, fc2
  EXPECT_EQ(t.peft_module_name("encoder.layers.0.self_attn.qkv"), "encoder.layers.0.self_attn.qkv");
}

}  // namespace
}  // namespace mvb::test
