// BLIP and BLIP-2 against transformers 5.23: the tiny checkpoints and outputs of
// tests/oracles/models/make_blip_fixtures.py (tests/fixtures/models/blip).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/blip/vision.h"
#include "medvlmbench/models/contrastive_towers.h"
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

}  // namespace
}  // namespace mvb::test
