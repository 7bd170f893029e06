// StateDict views (rename rules, subtrees) and loading into torch::nn modules.
#include "medvlmbench/io/state_dict.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict_module.h"
#include "support/test_support.h"

using namespace mvb;
using namespace mvb::io;
using mvb::test::TempDir;

namespace {

StateDict make(const TempDir& d, const std::vector<std::pair<std::string, at::Tensor>>& ts) {
  write_safetensors(d / "w.safetensors", ts);
  return StateDict::open(d / "w.safetensors");
}

}  // namespace

TEST(StateDict, RemapPrefixRegexAndDrop) {
  TempDir d;
  StateDict sd = make(d, {{"model.vision_model.encoder.layers.0.w", at::ones({1})},
                          {"model.text_model.embeddings.w", at::ones({2})},
                          {"logit_scale", at::ones({})},
                          {"model.vision_model.position_ids", at::zeros({3}, at::kLong)}});
  StateDict v = sd.remap({{"model.vision_model.position_ids", "<drop>"},
                          {"model.vision_model.", "visual."},
                          {R"(^model\.text_model\.(\w+)\.)", "text.$1_", true}});
  EXPECT_TRUE(v.contains("visual.encoder.layers.0.w"));
  EXPECT_TRUE(v.contains("text.embeddings_w"));
  EXPECT_TRUE(v.contains("logit_scale"));
  EXPECT_FALSE(v.contains("visual.position_ids"));
  EXPECT_EQ(v.size(), 3u);
  StateDict sub = sd.subtree("model.vision_model.");
  EXPECT_EQ(sub.size(), 2u);
  EXPECT_TRUE(sub.contains("encoder.layers.0.w"));
  // Two names collapsing into one is an error, not a silent overwrite.
  EXPECT_THROW(sd.remap({{"model.vision_model.encoder.layers.0.w", "x"}, {"logit_scale", "x"}}), Error);
  try {
    sd.get("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
}

TEST(StateDict, LoadIntoModuleReportsMissingUnexpectedAndMismatched) {
  TempDir d;
  torch::nn::Sequential net(torch::nn::Linear(3, 2), torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
  const at::Tensor w = at::randn({2, 3}).to(at::kBFloat16);
  StateDict sd =
      make(d, {{"0.weight", w}, {"0.bias", at::ones({2})}, {"1.weight", at::full({2}, 2.0)}, {"extra", at::ones({1})}});
  try {
    load_into(*net, sd);
    FAIL() << "strict load must fail";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("1 missing: 1.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("1 unexpected: extra"), std::string::npos) << m;
  }
  LoadOptions lenient;
  lenient.strict = false;
  LoadReport r = load_into(*net, sd, lenient);
  EXPECT_EQ(r.loaded, 3u);
  EXPECT_EQ(r.missing, std::vector<std::string>{"1.bias"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra"});
  // bf16 in the file, fp32 in the module: cast on copy, exact for bf16 values.
  EXPECT_TRUE(at::equal(net->named_parameters()["0.weight"], w.to(at::kFloat)));

  LoadOptions ignoring;
  ignoring.ignore_missing = {"1.bias"};
  ignoring.ignore_unexpected = {"extra"};
  ignoring.dtype = at::kBFloat16;
  r = load_into(*net, sd, ignoring);
  EXPECT_TRUE(r.unexpected.empty());
  EXPECT_EQ(net->named_parameters()["0.weight"].scalar_type(), at::kBFloat16);

  StateDict bad = make(d, {{"0.weight", at::ones({3, 2})},
                           {"0.bias", at::ones({2})},
                           {"1.weight", at::ones({2})},
                           {"1.bias", at::ones({2})}});
  r = load_into(*net, bad, lenient);
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_NE(r.mismatched[0].find("0.weight"), std::string::npos);
}

TEST(StateDict, FolderWithSeveralWeightFilesNeedsAChoice) {
  TempDir d;
  write_safetensors(d / "a.safetensors", {{"x", at::ones({1})}});
  write_safetensors(d / "b.safetensors", {{"y", at::ones({1})}});
  EXPECT_THROW(StateDict::open(d.path()), Error);
  write_safetensors(d / "model.safetensors", {{"z", at::ones({1})}});
  EXPECT_TRUE(StateDict::open(d.path()).contains("z"));
  TempDir empty;
  EXPECT_THROW(StateDict::open(empty.path()), Error);
}
