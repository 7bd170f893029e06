// XrayGPT end to end with the tiny MiniGPT-4 checkpoint of tests/oracles/models/make_xraygpt_fixtures.py
// (the reference's pretrained_models layout): `eval --task vqa` (SLAKE) and `--task caption`
// (MIMIC-CXR), sampling as the reference does (seeded by --seed; tests/models/xraygpt_test.cpp checks
// that it is reproducible).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;
using test::run_mvb;

TEST(XrayGptEval, VqaAndCaptionRunEndToEnd) {
  for (const auto& [task, dataset] :
       std::vector<std::pair<std::string, std::string>>{{"vqa", "SLAKE"}, {"caption", "MIMIC_CXR"}}) {
    SCOPED_TRACE(task);
    test::TempDir exp;
    const test::EvalRun run = test::run_eval({task,
                                              dataset,
                                              "XrayGPT",
                                              test::fixture_path("models/xraygpt"),
                                              exp.path(),
                                              {"--max_new_tokens", "12", "--batch_size", "3", "--seed", "5"}});
    const auto& rows = run.rows;
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      const std::string prompt = row.at("prompt").get<std::string>();
      EXPECT_EQ(prompt.rfind("###Patient: <Img><ImageHere></Img> ", 0), 0u) << prompt;
      EXPECT_EQ(prompt.substr(prompt.size() - 10), "###Doctor:") << prompt;
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 33);  // BOS, the 32 query embeddings and the text
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 12);
    }
    const json& manifest = run.manifest;
    EXPECT_EQ(manifest.at("model").at("model"), "XrayGPT");
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), 12);
    EXPECT_EQ(manifest.at("model").at("generation").at("do_sample"), true);
    EXPECT_DOUBLE_EQ(manifest.at("model").at("generation").at("top_p").get<double>(), 0.9);
  }
}

// `check` recognises the release layout (the .pth files beside the Vicuna folder) and builds the model.
TEST(XrayGptEval, CheckReadsTheReleaseLayout) {
  const auto r = run_mvb(
      {"check", "--model", "XrayGPT", "--model_path", test::fixture_path("models/xraygpt"), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NE(j.dump().find("XrayGPT (MiniGPT-4"), std::string::npos) << r.out;
  EXPECT_NE(j.dump().find("Vicuna_Radiology_fp16/tokenizer.model"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mvb
