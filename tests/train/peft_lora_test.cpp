// Our LoRA (nn::Linear / nn::Embedding adapters, train::apply_lora, the PEFT adapter folder format in
// head_checkpoint.h) against PEFT 0.21 itself, on the reference's img-lora-lp / clip-img-lora config
// (r 8, alpha 32, dropout 0.05, every nn.Linear and nn.Embedding of a transformers CLIP vision tower):
//  - an adapter PEFT saved (tests/fixtures/models/tiny-clip-peft-lora, written by
//    tests/oracles/nn/make_peft_lora_fixture.py) loads in ours and gives PEFT's outputs, unmerged and
//    merged;
//  - an adapter ours saves loads in PEFT (tests/oracles/nn/peft_load_oracle.py, run live with the oracle
//    environment) and gives our outputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/train/head_checkpoint.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

constexpr double kTol = 1e-5;

std::string fixture() { return fixture_path("models/tiny-clip-peft-lora"); }

std::unique_ptr<ContrastiveTowers> load_base() {
  ModelSpec spec;
  spec.name = "CLIP";
  spec.model_path = fixture() + "/base";
  spec.class_texts = {"a", "b"};
  return make_contrastive_towers(spec);
}

train::PeftNameFn peft_names(const ContrastiveTowers& m) {
  return [&m](const std::string& n) { return m.peft_module_name(n); };
}

// The vision tower's last_hidden_state is the residual stream before any norm (|x| ~ 100 here, with
// strong adapters), so it is compared relative to its largest magnitude: fp32 rounding, not an error.
// Measured 7.2e-6 with OpenBLAS's SkylakeX kernels and 1.28e-5 with its Haswell kernels (what
// OPENBLAS_CORETYPE=Haswell, set on the AMD machines here, selects): other summation orders, same maths.
constexpr double kHiddenRelTol = 5e-5;

double relative_diff(const at::Tensor& got, const at::Tensor& want) {
  return max_abs_diff(got, want) / std::max(1.0, want.abs().max().item<double>());
}

at::Tensor last_hidden_state(ContrastiveTowers& m, const at::Tensor& px) {
  auto* vit = dynamic_cast<nn::VisionTransformerImpl*>(&m.vision_tower());
  EXPECT_NE(vit, nullptr);
  return vit ? vit->forward(px).last_hidden_state : at::Tensor();
}

TEST(PeftLora, AdapterSavedByPeftLoadsInOursWithPeftsOutputs) {
  const auto ex = read_expected(fixture());
  const at::Tensor px = ex.input("pixel_values");
  auto model = load_base();
  ASSERT_TRUE(model);
  at::NoGradGuard g;
  // The base alone first: our CLIP equals transformers' on this checkpoint.
  EXPECT_LT(max_abs_diff(model->image_features(px), ex.output("image_embeds_base")), kTol);

  const nn::LoraConfig cfg = train::read_peft_config(fixture() + "/adapter");
  EXPECT_EQ(cfg.r, 8);
  EXPECT_EQ(cfg.alpha, 32);
  EXPECT_EQ(cfg.dropout, 0.05);
  const int adapted = train::apply_lora(model->vision_tower(), cfg);
  EXPECT_EQ(train::load_peft_adapter(fixture() + "/adapter", model->vision_tower(), peft_names(*model)), adapted)
      << "every module our apply_lora adapts must be one PEFT adapted (the reference's targets)";
  model->vision_tower().eval();
  const double d_emb = max_abs_diff(model->image_features(px), ex.output("image_embeds"));
  const double d_hid = relative_diff(last_hidden_state(*model, px), ex.output("vision_last_hidden_state"));
  std::printf("[measured] PEFT-saved adapter in ours: image_embeds %.3g, vision last_hidden_state %.3g (relative)\n",
              d_emb, d_hid);
  EXPECT_LT(d_emb, kTol);
  EXPECT_LT(d_hid, kHiddenRelTol);
  // The adapter matters (else the comparison could pass on the base model).
  EXPECT_GT(max_abs_diff(ex.output("image_embeds"), ex.output("image_embeds_base")), 0.1);

  // Merged, as `eval --usage img-lora-lp` runs it.
  for (auto& [name, lin] : nn::find_linears(model->vision_tower())) lin->merge_lora();
  for (auto& [name, emb] : nn::find_embeddings(model->vision_tower())) emb->merge_lora();
  EXPECT_LT(max_abs_diff(model->image_features(px), ex.output("image_embeds")), kTol);
}

TEST(PeftLora, AdapterSavedByOursLoadsInPeftWithOurOutputs) {
  MVB_REQUIRE_ORACLE_ENV();
  auto model = load_base();
  ASSERT_TRUE(model);
  const nn::LoraConfig cfg = train::diagnosis_lora_config(128, 256, 0.05);  // the reference's r 8, alpha 32
  train::apply_lora(model->vision_tower(), cfg);
  {
    // A trained-looking adapter: every A and B non-zero.
    at::NoGradGuard g;
    at::manual_seed(4);
    for (auto& p : model->vision_tower().named_parameters(true))
      if (nn::is_lora_name(p.key())) p.value().normal_(0.0, 0.3);
  }
  model->vision_tower().eval();
  TempDir dir;
  train::save_head(dir.path(), {{"model", "CLIP"}}, nullptr, &model->vision_tower(), peft_names(*model));
  ASSERT_TRUE(io::exists(dir / train::kPeftConfigFile));
  ASSERT_TRUE(io::exists(dir / train::kPeftWeightsFile));
  ASSERT_TRUE(io::exists(dir / train::kLoraWeightsFile)) << "our own format is still written";

  const at::Tensor px = read_expected(fixture()).input("pixel_values");
  io::write_safetensors(dir / "in.safetensors", {{"pixel_values", px}});
  const auto r = run_oracle_python({source_dir() + "/tests/oracles/nn/peft_load_oracle.py", fixture() + "/base",
                                    dir.path(), dir / "in.safetensors", dir / "out.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::StateDict peft = io::open_safetensors(dir / "out.safetensors");
  int64_t adapter_tensors = 0;
  for (const auto& p : model->vision_tower().named_parameters(true)) adapter_tensors += nn::is_lora_name(p.key());
  EXPECT_EQ(peft.get("lora_tensors").item<int64_t>(), adapter_tensors);

  at::NoGradGuard g;
  const double d_emb = max_abs_diff(model->image_features(px), peft.get("image_embeds"));
  const double d_hid = relative_diff(last_hidden_state(*model, px), peft.get("vision_last_hidden_state"));
  std::printf("[measured] our adapter in PEFT: image_embeds %.3g, vision last_hidden_state %.3g (relative)\n", d_emb,
              d_hid);
  EXPECT_LT(d_emb, kTol);
  EXPECT_LT(d_hid, kHiddenRelTol);

  // And back: a fresh model reads the PEFT folder we wrote (without lora.safetensors) to the same outputs.
  std::filesystem::remove(dir / train::kLoraWeightsFile);
  auto again = load_base();
  train::apply_lora(again->vision_tower(), train::read_peft_config(dir.path()));
  train::load_lora_weights(dir.path(), again->vision_tower(), peft_names(*again));
  again->vision_tower().eval();
  EXPECT_LT(max_abs_diff(again->image_features(px), peft.get("image_embeds")), kTol);
}

TEST(PeftLora, UnsupportedOrMismatchedAdaptersAreClearErrors) {
  TempDir dir;
  for (const auto& [bad, what] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"peft_type", "IA3"}, {"r", 8}}, "not LORA"},
           {{{"peft_type", "LORA"}, {"r", 8}, {"use_dora", true}}, "only plain LoRA"},
           {{{"peft_type", "LORA"}, {"r", 8}, {"rank_pattern", {{"fc1", 4}}}}, "only plain LoRA"},
           {{{"peft_type", "LORA"}, {"r", 0}}, "positive integer"}}) {
    write_text(dir / train::kPeftConfigFile, bad.dump());
    try {
      train::read_peft_config(dir.path());
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
  // An adapter of another rank: the shape error names the tensor.
  auto model = load_base();
  train::apply_lora(model->vision_tower(), nn::LoraConfig{4, 8, 0.0});
  try {
    train::load_peft_adapter(fixture() + "/adapter", model->vision_tower(), peft_names(*model));
    ADD_FAILURE() << "an r=8 adapter loaded into r=4 modules";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has shape"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::test
