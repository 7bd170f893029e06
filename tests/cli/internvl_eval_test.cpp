// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny InternVL3 -hf checkpoint
// (tests/fixtures/models/internvl) on the SLAKE and MIMIC-CXR fixture datasets: the registry name, the
// local generative path of the runner, predictions rows with the -hf chat prompt and token counts,
// run.json's description, and --batch_size (left-padded batches) giving the predictions of batch 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;

test::EvalRun eval(const std::string& task, const std::string& dataset, const std::string& batch,
                   const std::string& exp) {
  return test::run_eval(
      {task, dataset, "InternVL3", test::fixture_path("models/internvl"), exp, {"--batch_size", batch}});
}

TEST(InternVLEval, VqaAndCaptionRunEndToEndAndBatchesEqualBatchOne) {
  for (const auto& [task, dataset] : {std::pair<std::string, std::string>{"vqa", "SLAKE"}, {"caption", "MIMIC_CXR"}}) {
    SCOPED_TRACE(task);
    test::TempDir a, b;
    const test::EvalRun one = eval(task, dataset, "1", a.path());
    const test::EvalRun batched = eval(task, dataset, "3", b.path());
    ASSERT_FALSE(one.rows.empty());
    ASSERT_EQ(one.rows.size(), batched.rows.size());
    for (size_t i = 0; i < one.rows.size(); ++i) {
      const json& row = one.rows[i];
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      // The -hf template: no system turn, the image (<img> + 4 <IMG_CONTEXT> per tile + </img>) before the text.
      EXPECT_EQ(row.at("prompt").get<std::string>().rfind("<|im_start|>user\n<img><IMG_CONTEXT>", 0), 0u) << row.dump();
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 4);
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 200);
      EXPECT_EQ(row.at("prediction"), batched.rows[i].at("prediction")) << i;
    }
    const json& m = one.manifest.at("model");
    EXPECT_EQ(m.at("generation").at("max_new_tokens"), 200);
    EXPECT_EQ(m.at("generation").at("do_sample"), false);
    EXPECT_NE(m.dump().find("InternVLForConditionalGeneration"), std::string::npos) << m.dump();
  }
}

}  // namespace
}  // namespace mvb
