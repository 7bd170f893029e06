// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny XGenMiniV1 checkpoint
// (tests/fixtures/models/xgen) on the SLAKE and MIMIC-CXR fixture datasets: the registry name, the local generative
// path with --batch_size (left padding), predictions rows with the model card's template and token counts, and
// run.json's description of what ran.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;

TEST(XGenEval, VqaAndCaptionRunEndToEnd) {
  for (const auto& [task, dataset, batch] :
       {std::tuple<std::string, std::string, std::string>{"vqa", "SLAKE", "2"}, {"caption", "MIMIC_CXR", "1"}}) {
    SCOPED_TRACE(task);
    test::TempDir exp;
    const test::EvalRun run = test::run_eval({task,
                                              dataset,
                                              "XGenMiniV1",
                                              test::fixture_path("models/xgen"),
                                              exp.path(),
                                              {"--batch_size", batch, "--max_new_tokens", "12"}});
    const auto& rows = run.rows;
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
      const std::string prompt = row.at("prompt").get<std::string>();
      EXPECT_EQ(prompt.rfind("<|system|>\nA chat between a curious user", 0), 0u) << row.dump();
      EXPECT_NE(prompt.find("<|user|>\n<image>\n"), std::string::npos) << row.dump();
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 0);
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 12);
    }
    const json& manifest = run.manifest;
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), 12);
    EXPECT_EQ(manifest.at("model").at("generation").at("do_sample"), false);
    EXPECT_EQ(manifest.at("model").at("architecture"), "XGenMMModelForConditionalGeneration");
    EXPECT_EQ(manifest.at("model").at("model"), "XGenMiniV1");
  }
}

}  // namespace
}  // namespace mvb
