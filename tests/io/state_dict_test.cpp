// StateDict views (rename rules, subtrees) and folder resolution. Loading into modules is
// nn::read_weights / nn::assign_weights, tested in tests/nn/weights_test.cpp.
#include "medvlmbench/io/state_dict.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/safetensors.h"
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
