// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny XGenMiniV1 checkpoint
// (tests/fixtures/models/xgen) on the SLAKE and MIMIC-CXR fixture datasets: the registry name, the local generative
// path with --batch_size (left padding), predictions rows with the model card's template and token counts, and
// run.json's description of what ran.
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

TEST(XGenEval, VqaAndCaptionRunEndToEnd) {
  for (const auto& [task, dataset, batch] :
       {std::tuple<std::string, std::string, std::string>{"vqa", "SLAKE", "2"}, {"caption", "MIMIC_CXR", "1"}}) {
    SCOPED_TRACE(task);
    test::TempDir exp;
    const auto r = mvb_cmd({"eval",
                            "--task",
                            task,
                            "--dataset",
                            dataset,
                            "--split",
                            "test",
                            "--image_path",
                            test::fixture_path("datasets/" + dataset),
                            "--model",
                            "XGenMiniV1",
                            "--model_path",
                            test::fixture_path("models/xgen"),
                            "--exp_path",
                            exp.path(),
                            "--batch_size",
                            batch,
                            "--max_new_tokens",
                            "12",
                            "--bootstrap",
                            "0",
                            "--log_level",
                            "warn",
                            "--device",
                            "cpu"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string dir = find_run_dir(exp.path());
    ASSERT_FALSE(dir.empty());
    const auto rows = io::read_jsonl(dir + "/predictions.jsonl").rows;
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
      const std::string prompt = row.at("prompt").get<std::string>();
      EXPECT_EQ(prompt.rfind("<|system|>\nA chat between a curious user", 0), 0u) << row.dump();
      EXPECT_NE(prompt.find("<|user|>\n<image>\n"), std::string::npos) << row.dump();
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 0);
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 12);
    }
    const json manifest = json::parse(test::read_text(dir + "/run.json"));
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), 12);
    EXPECT_EQ(manifest.at("model").at("generation").at("do_sample"), false);
    EXPECT_EQ(manifest.at("model").at("architecture"), "XGenMMModelForConditionalGeneration");
    EXPECT_EQ(manifest.at("model").at("model"), "XGenMiniV1");
  }
}

}  // namespace
}  // namespace mvb
