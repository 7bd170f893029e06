// XrayGPT end to end with the tiny MiniGPT-4 checkpoint of tests/oracles/models/make_xraygpt_fixtures.py
// (the reference's pretrained_models layout): `eval --task vqa` (SLAKE) and `--task caption`
// (MIMIC-CXR), sampling as the reference does (seeded by --seed; tests/models/xraygpt_test.cpp checks
// that it is reproducible).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

std::string find_run_dir(const std::string& exp) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(exp))
    if (e.path().filename() == "predictions.jsonl") return e.path().parent_path().string();
  return "";
}

std::vector<std::string> eval_args(const std::string& task, const std::string& dataset, const std::string& exp) {
  return {"eval",
          "--task",
          task,
          "--dataset",
          dataset,
          "--split",
          "test",
          "--image_path",
          test::fixture_path("datasets/" + dataset),
          "--model",
          "XrayGPT",
          "--model_path",
          test::fixture_path("models/xraygpt"),
          "--exp_path",
          exp,
          "--bootstrap",
          "0",
          "--log_level",
          "warn",
          "--device",
          "cpu",
          "--max_new_tokens",
          "12",
          "--batch_size",
          "3",
          "--seed",
          "5"};
}

TEST(XrayGptEval, VqaAndCaptionRunEndToEnd) {
  for (const auto& [task, dataset] :
       std::vector<std::pair<std::string, std::string>>{{"vqa", "SLAKE"}, {"caption", "MIMIC_CXR"}}) {
    SCOPED_TRACE(task);
    test::TempDir exp;
    const auto r = mvb_cmd(eval_args(task, dataset, exp.path()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string dir = find_run_dir(exp.path());
    ASSERT_FALSE(dir.empty());
    const auto rows = io::read_jsonl(dir + "/predictions.jsonl").rows;
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      const std::string prompt = row.at("prompt").get<std::string>();
      EXPECT_EQ(prompt.rfind("###Patient: <Img><ImageHere></Img> ", 0), 0u) << prompt;
      EXPECT_EQ(prompt.substr(prompt.size() - 10), "###Doctor:") << prompt;
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 33);  // BOS, the 32 query embeddings and the text
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 12);
    }
    const json manifest = json::parse(test::read_text(dir + "/run.json"));
    EXPECT_EQ(manifest.at("model").at("model"), "XrayGPT");
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), 12);
    EXPECT_EQ(manifest.at("model").at("generation").at("do_sample"), true);
    EXPECT_DOUBLE_EQ(manifest.at("model").at("generation").at("top_p").get<double>(), 0.9);
  }
}

// `check` recognises the release layout (the .pth files beside the Vicuna folder) and builds the model.
TEST(XrayGptEval, CheckReadsTheReleaseLayout) {
  const auto r = mvb_cmd(
      {"check", "--model", "XrayGPT", "--model_path", test::fixture_path("models/xraygpt"), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NE(j.dump().find("XrayGPT (MiniGPT-4"), std::string::npos) << r.out;
  EXPECT_NE(j.dump().find("Vicuna_Radiology_fp16/tokenizer.model"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mvb
