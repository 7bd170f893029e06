// `medvlmbench check --model_path`: architecture, parameter count and dtypes read from headers, and
// every missing file reported.
#include "medvlmbench/io/checkpoint_inspect.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "medvlmbench/io/safetensors.h"
#include "support/test_support.h"
#include "torch_test_support.h"

using namespace mvb;
using namespace mvb::io;
using mvb::test::TempDir;

TEST(CheckpointInspect, ShardedLlavaFolder) {
  TempDir d;
  mvb::test::write_text(d / "config.json",
                        R"({"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava"})");
  write_safetensors(d / "model-00001-of-00002.safetensors",
                    {{"vision_tower.w", at::ones({3, 4}).to(at::kHalf)}, {"mm_projector.b", at::ones({4})}});
  write_safetensors(d / "model-00002-of-00002.safetensors", {{"lm_head.weight", at::ones({10, 2}).to(at::kBFloat16)}});
  mvb::test::write_text(d / "model.safetensors.index.json", R"({"weight_map": {
      "vision_tower.w": "model-00001-of-00002.safetensors", "mm_projector.b": "model-00001-of-00002.safetensors",
      "lm_head.weight": "model-00002-of-00002.safetensors"}})");
  CheckpointSummary s = inspect_checkpoint(d.path());
  EXPECT_EQ(s.architecture, "LlavaForConditionalGeneration");
  EXPECT_EQ(s.parameters, 12 + 4 + 20);
  EXPECT_EQ(s.tensors, 3);
  EXPECT_EQ(s.dtypes["F16"], 1);
  EXPECT_EQ(s.dtypes["BF16"], 1);
  EXPECT_EQ(s.dtypes["F32"], 1);
  // No tokenizer and no preprocessor config: both reported.
  ASSERT_EQ(s.problems.size(), 2u) << s.to_json().dump();
  const std::string text = format_checkpoint_summary(s.to_json());
  EXPECT_NE(text.find("parameters: 36 in 3 tensors"), std::string::npos) << text;
  EXPECT_NE(text.find("no tokenizer"), std::string::npos) << text;
  // A missing shard is a problem, not a crash.
  std::remove((d / "model-00002-of-00002.safetensors").c_str());
  s = inspect_checkpoint(d.path());
  EXPECT_EQ(s.parameters, -1);
  bool mentions_shard = false;
  for (const auto& p : s.problems) mentions_shard |= p.find("missing shard") != std::string::npos;
  EXPECT_TRUE(mentions_shard) << s.to_json().dump();
}

TEST(CheckpointInspect, TorchBinWithoutConfigUsesWeightNames) {
  TempDir d;
  auto r = mvb::test::run_torch_oracle("open-clip-names", {d / "open_clip_pytorch_model.bin"});
  ASSERT_EQ(r.exit_code, 0);
  CheckpointSummary s = inspect_checkpoint(d.path());
  EXPECT_EQ(s.architecture, "open_clip CLIP (from weight names)");
  EXPECT_EQ(s.parameters, 13);
  EXPECT_TRUE(s.problems.empty()) << s.to_json().dump();
}

TEST(CheckpointInspect, EmptyAndCorruptFolders) {
  TempDir d;
  CheckpointSummary s = inspect_checkpoint(d.path());
  EXPECT_GE(s.problems.size(), 2u);  // no weights, no config
  mvb::test::write_text(d / "model.safetensors", "garbage");
  s = inspect_checkpoint(d.path());
  bool corrupt = false;
  for (const auto& p : s.problems) corrupt |= p.find("model.safetensors") != std::string::npos;
  EXPECT_TRUE(corrupt) << s.to_json().dump();
}

// MedCLIP and PMC-CLIP folders carry the text tower's BERT config.json beside a vision config: the
// summary must name the whole model, not "BertModel".
TEST(CheckpointInspect, CompositeContrastiveReleasesAreNamedByTheirMarkerFile) {
  CheckpointSummary s = inspect_checkpoint(mvb::test::fixture_path("models/tiny-medclip"));
  EXPECT_NE(s.architecture.find("MedCLIP"), std::string::npos) << s.to_json().dump();
  EXPECT_GT(s.parameters, 0);
  EXPECT_TRUE(s.problems.empty()) << s.to_json().dump();
  s = inspect_checkpoint(mvb::test::fixture_path("models/tiny-pmcclip"));
  EXPECT_NE(s.architecture.find("PMC-CLIP"), std::string::npos) << s.to_json().dump();
  EXPECT_GT(s.parameters, 0);
  EXPECT_TRUE(s.problems.empty()) << s.to_json().dump();
}
