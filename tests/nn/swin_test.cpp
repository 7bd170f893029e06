// The shared Swin block against transformers' SwinModel itself: tests/fixtures/models/tiny-swin is a
// SwinModel saved with save_pretrained (so its state dict loads here by SwinModel's published names) and
// expected.safetensors holds SwinModel's outputs, written by tests/oracles/models/make_swin_fixture.py.
// The configuration reaches the cases the MedCLIP fixture does not: a last stage exactly the window's
// size (swin-tiny at 224: 7x7 with window 7, so one window and no shift) and non-square inputs (each
// side padded on its own, min(h, w) deciding the window), with pixel padding to the patch size.
#include "medvlmbench/nn/swin.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <iostream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/weights.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

const char* kDir = "models/tiny-swin";

nn::SwinModel load_fixture_swin() {
  const std::string dir = fixture_path(kDir);
  const nn::SwinOptions o =
      nn::SwinOptions::from_config(nlohmann::json::parse(read_text(dir + "/config.json")), dir + "/config.json");
  nn::SwinModel m(o);
  io::StateDict sd = io::StateDict::open(dir);
  nn::assign_weights(*m, nn::read_weights(sd, nn::swin_checkpoint_name), sd.source());
  m->eval();
  return m;
}

TEST(Swin, MatchesTransformersOnEqualWindowAndNonSquareInputs) {
  nn::SwinModel m = load_fixture_swin();
  const ExpectedOutputs ref = read_expected(fixture_path(kDir));
  double worst = 0;
  int cases = 0;
  for (const auto& [name, px] : ref.inputs) {
    const std::string tag = name.substr(std::string("pixel_values_").size());
    SCOPED_TRACE(tag);
    at::NoGradGuard no_grad;
    nn::SwinFeatures f = m->forward(px);
    const double pooled = max_abs_diff(f.pooled, ref.output("pooler_output_" + tag));
    const double seq = max_abs_diff(f.last_hidden_state, ref.output("last_hidden_state_" + tag));
    EXPECT_LT(pooled, 1e-4);
    EXPECT_LT(seq, 1e-4);
    EXPECT_GT(f.pooled.abs().max().item<double>(), 1e-2);  // not a degenerate output
    worst = std::max({worst, pooled, seq});
    ++cases;
  }
  EXPECT_EQ(cases, 3);  // 56x56, 56x60, 61x57
  std::cout << "[ parity   ] Swin vs transformers SwinModel: max |diff| " << worst << "\n";
}

TEST(Swin, LoadsSwinModelNamesAndRefusesWhatItCannotRun) {
  const std::string cfg_path = fixture_path(kDir) + "/config.json";
  const nlohmann::json cfg = nlohmann::json::parse(read_text(cfg_path));
  const nn::SwinOptions o = nn::SwinOptions::from_config(cfg, cfg_path);
  EXPECT_EQ(o.num_features(), 16);
  nn::SwinModel m(o);
  auto names = m->named_parameters(true).keys();
  for (const char* n :
       {"embeddings.patch_embeddings.projection.weight", "embeddings.norm.bias",
        "encoder.layers.0.blocks.1.attention.self.relative_position_bias_table",
        "encoder.layers.0.blocks.1.attention.self.query.weight",
        "encoder.layers.0.blocks.1.attention.output.dense.bias", "encoder.layers.1.blocks.2.intermediate.dense.weight",
        "encoder.layers.1.blocks.2.output.dense.bias", "encoder.layers.0.downsample.reduction.weight",
        "encoder.layers.0.downsample.norm.weight", "layernorm.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_FALSE(nn::swin_checkpoint_name("encoder.layers.0.blocks.0.attention.self.relative_position_index"));
  // A map smaller than the window: transformers fails on its bias table too; we say why.
  at::NoGradGuard no_grad;
  EXPECT_THROW(m->forward(at::zeros({1, 3, 40, 40})), Error);  // 10x10 -> 5x5 < window 7
  nlohmann::json bad = cfg;
  bad["use_absolute_embeddings"] = true;
  EXPECT_THROW(nn::SwinOptions::from_config(bad, "cfg"), Error);
  bad = cfg;
  bad["num_heads"] = {2};
  EXPECT_THROW(nn::SwinOptions::from_config(bad, "cfg"), Error);
}

}  // namespace
}  // namespace mvb::test
