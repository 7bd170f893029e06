// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny Qwen2-VL / Qwen2.5-VL
// checkpoints (tests/fixtures/models/qwen2_vl, qwen2_5_vl) on the SLAKE and MIMIC-CXR fixture
// datasets: the registry names, the local generative path of the runner, predictions rows with the
// ChatML prompt and token counts, and run.json's description of the model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;

struct Case {
  std::string task, dataset, model, checkpoint;
};

TEST(QwenEval, VqaAndCaptionRunEndToEnd) {
  for (const Case& c :
       {Case{"vqa", "SLAKE", "Qwen2-VL", "qwen2_vl"}, Case{"caption", "MIMIC_CXR", "Lingshu", "qwen2_5_vl"},
        Case{"vqa", "SLAKE", "Qwen25-VL", "qwen2_5_vl"}}) {
    SCOPED_TRACE(c.model + " " + c.task);
    test::TempDir exp;
    const test::EvalRun run =
        test::run_eval({c.task, c.dataset, c.model, test::fixture_path("models/" + c.checkpoint), exp.path(), {}});
    const auto& rows = run.rows;
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
      EXPECT_EQ(row.at("prompt").get<std::string>().rfind("<|im_start|>system\nYou are a helpful assistant.", 0), 0u)
          << row.dump();
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 0);
    }
    // The reference's decoding: the checkpoint's sampling settings, 512 new tokens (Lingshu 128).
    for (const auto& row : rows)
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), c.model == "Lingshu" ? 128 : 512);
    const json& manifest = run.manifest;
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), c.model == "Lingshu" ? 128 : 512);
    EXPECT_EQ(manifest.at("model").at("generation").at("top_k"), 1);
    const std::string described = manifest.dump();
    EXPECT_NE(described.find(c.checkpoint == "qwen2_vl" ? "Qwen2VLForConditionalGeneration"
                                                        : "Qwen2_5_VLForConditionalGeneration"),
              std::string::npos)
        << described;
  }
}

}  // namespace
}  // namespace mvb
