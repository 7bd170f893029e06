// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny InternVL3 -hf checkpoint
// (tests/fixtures/models/internvl) on the SLAKE and MIMIC-CXR fixture datasets: the registry name, the
// local generative path of the runner, predictions rows with the -hf chat prompt and token counts,
// run.json's description, and --batch_size (left-padded batches) giving the predictions of batch 1.
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
  std::vector<std::string> args = {test::exe_path(), "eval",
                                   "--task",         task,
                                   "--dataset",      dataset,
                                   "--split",        "test",
                                   "--image_path",   test::fixture_path("datasets/" + dataset),
                                   "--model",        "InternVL3",
                                   "--model_path",   test::fixture_path("models/internvl"),
                                   "--exp_path",     exp,
                                   "--batch_size",   batch,
                                   "--bootstrap",    "0",
                                   "--log_level",    "warn",
                                   "--device",       "cpu"};
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

TEST(InternVLEval, VqaAndCaptionRunEndToEndAndBatchesEqualBatchOne) {
  for (const auto& [task, dataset] : {std::pair<std::string, std::string>{"vqa", "SLAKE"}, {"caption", "MIMIC_CXR"}}) {
    SCOPED_TRACE(task);
    test::TempDir a, b;
    const EvalRun one = eval(task, dataset, "1", a.path());
    const EvalRun batched = eval(task, dataset, "3", b.path());
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
