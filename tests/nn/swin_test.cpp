// The shared Swin block against a python3-torch port of transformers' modeling_swin.py
// (scripts/reference/medclip_reference.py --swin): a PROVISIONAL oracle until a device session runs
// transformers itself. Random weights saved under SwinModel's own names, so this also proves that a
// SwinModel state dict loads by name. The configuration reaches the cases the MedCLIP fixture does not:
// a last stage exactly the window's size (swin-tiny at 224: 7x7 with window 7, so one window and no
// shift) and non-square inputs (each side padded on its own, min(h, w) deciding the window).
#include "medvlmbench/nn/swin.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/weights.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

const char* kConfig = R"({"image_size": 56, "patch_size": 4, "num_channels": 3, "embed_dim": 8, "depths": [2, 3],
  "num_heads": [2, 4], "window_size": 7, "mlp_ratio": 4.0, "qkv_bias": true, "hidden_act": "gelu",
  "layer_norm_eps": 1e-5, "use_absolute_embeddings": false})";

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  return (a - b).abs().max().item<double>();
}

nn::SwinModel random_swin(const nn::SwinOptions& o) {
  at::manual_seed(11);
  nn::SwinModel m(o);
  at::NoGradGuard no_grad;
  for (auto& p : m->named_parameters(true)) {
    const std::string& n = p.key();
    at::Tensor& t = p.value();
    if (n.find("norm") != std::string::npos) {  // LayerNorms: near identity, yet not exactly
      t.copy_((n.size() > 6 && n.compare(n.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0) + 0.1 * at::randn(t.sizes()));
    } else {
      const double fan_in = t.dim() > 1 ? static_cast<double>(t.numel() / t.size(0)) : 10.0;
      t.copy_(at::randn(t.sizes()) * (n.find("relative_position") != std::string::npos ? 0.5 : 1 / std::sqrt(fan_in)));
    }
  }
  m->eval();
  return m;
}

TEST(Swin, MatchesTransformersOnEqualWindowAndNonSquareInputs) {
  const std::string py = system_python();
  ASSERT_FALSE(py.empty()) << "Debian's /usr/bin/python3 (python3-torch) is required for the Swin oracle";
  TempDir tmp;
  write_text(tmp / "config.json", kConfig);
  const nn::SwinOptions o = nn::SwinOptions::from_config(nlohmann::json::parse(kConfig), "test config");
  nn::SwinModel m = random_swin(o);
  io::write_safetensors(tmp / "w.safetensors", nn::named_tensors(*m));
  for (auto [h, w] : {std::pair<int64_t, int64_t>{56, 56}, {56, 60}, {61, 57}}) {
    SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w));
    at::manual_seed(h * 100 + w);
    at::Tensor px = at::randn({2, 3, h, w});
    io::write_safetensors(tmp / "in.safetensors", {{"pixel_values", px}});
    CommandResult r =
        run_command({py, source_dir() + "/tests/oracles/models/medclip_reference.py", "--swin", tmp / "config.json",
                     tmp / "w.safetensors", tmp / "in.safetensors", tmp / "out.safetensors"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    io::StateDict ref = io::open_safetensors(tmp / "out.safetensors");
    at::NoGradGuard no_grad;
    nn::SwinFeatures f = m->forward(px);
    EXPECT_LT(max_abs_diff(f.pooled, ref.get("pooler_output")), 1e-4);
    EXPECT_LT(max_abs_diff(f.last_hidden_state, ref.get("last_hidden_state")), 1e-4);
  }
}

TEST(Swin, LoadsSwinModelNamesAndRefusesWhatItCannotRun) {
  const nn::SwinOptions o = nn::SwinOptions::from_config(nlohmann::json::parse(kConfig), "test config");
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
  nlohmann::json bad = nlohmann::json::parse(kConfig);
  bad["use_absolute_embeddings"] = true;
  EXPECT_THROW(nn::SwinOptions::from_config(bad, "cfg"), Error);
  bad = nlohmann::json::parse(kConfig);
  bad["num_heads"] = {2};
  EXPECT_THROW(nn::SwinOptions::from_config(bad, "cfg"), Error);
}

}  // namespace
}  // namespace mvb::test
