// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny NVILA checkpoint in the VILA layout
// (tests/fixtures/models/nvila) on the SLAKE and MIMIC-CXR fixture datasets: the registry name, the local
// generative path of the runner, predictions rows with the tokenizer's ChatML prompt ("<image>" + question, no
// newline) and token counts, run.json's description, and --batch_size giving the predictions of batch 1.
// --max_new_tokens bounds the run: the reference's own budget is model_max_length (8192) minus the prompt.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

std::string find_run_dir(const std::string& exp) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(exp))
    if (e.path().filename() == "predictions.jsonl") return e.path().parent_path().string();
  return "";
}

struct EvalRun {
  std::vector<json> rows;
  json manifest;
};

EvalRun eval(const std::string& task, const std::string& dataset, const std::string& batch, const std::string& exp) {
  std::vector<std::string> args = {test::exe_path(),   "eval",
                                   "--task",           task,
                                   "--dataset",        dataset,
                                   "--split",          "test",
                                   "--image_path",     test::fixture_path("datasets/" + dataset),
                                   "--model",          "NVILA",
                                   "--model_path",     test::fixture_path("models/nvila"),
                                   "--exp_path",       exp,
                                   "--batch_size",     batch,
                                   "--max_new_tokens", "6",
                                   "--bootstrap",      "0",
                                   "--log_level",      "warn",
                                   "--device",         "cpu"};
  const auto r = test::run_command(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EvalRun out;
  const std::string dir = find_run_dir(exp);
  if (dir.empty()) {
    ADD_FAILURE() << "no predictions under " << exp << "\n" << r.out << r.err;
    return out;
  }
  out.rows = io::read_jsonl(dir + "/predictions.jsonl").rows;
  out.manifest = json::parse(test::read_text(dir + "/run.json"));
  return out;
}

TEST(NvilaEval, VqaAndCaptionRunEndToEndAndBatchesEqualBatchOne) {
  for (const auto& [task, dataset] : {std::pair<std::string, std::string>{"vqa", "SLAKE"}, {"caption", "MIMIC_CXR"}}) {
    SCOPED_TRACE(task);
    test::TempDir a, b;
    const EvalRun one = eval(task, dataset, "1", a.path());
    const EvalRun batched = eval(task, dataset, "2", b.path());
    ASSERT_FALSE(one.rows.empty());
    ASSERT_EQ(one.rows.size(), batched.rows.size());
    for (size_t i = 0; i < one.rows.size(); ++i) {
      const json& row = one.rows[i];
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      // The llm tokenizer's template: its default system turn, then "<image>" + the question in the user turn.
      EXPECT_EQ(row.at("prompt").get<std::string>().rfind(
                    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>", 0),
                0u)
          << row.dump();
      // At least the smallest grid's tokens: 9 last-scale tiles x 4 tokens, the "\n" and the text.
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 36);
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 6);
      EXPECT_EQ(row.at("prediction"), batched.rows[i].at("prediction")) << i;
    }
    const json& m = one.manifest.at("model");
    EXPECT_EQ(m.at("generation").at("max_new_tokens"), 6);
    EXPECT_EQ(m.at("generation").at("do_sample"), false);
    EXPECT_NE(m.dump().find("mlp_downsample_2x2_fix"), std::string::npos) << m.dump();
  }
}

}  // namespace
}  // namespace mvb
