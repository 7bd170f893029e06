// --bertscore_model through the executable: `score` re-scores a VQA run folder with the tiny
// Bio_ClinicalBERT-layout fixture (bertscore_open appears) or without a model (absent, with a note);
// `eval` records the flag in run.json so a later `score` uses the same model; bad folders exit 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

std::string bert() { return test::fixture_path("models/tiny-clinicalbert"); }

void write_vqa_run(const test::TempDir& dir, const json& extra_config) {
  json cfg = {{"task", "vqa"}, {"dataset", "SLAKE"}, {"model", "LLaVA-1.5"}, {"seed", 0}};
  cfg.update(extra_config);
  test::write_text(dir / "run.json", json({{"config", cfg}}).dump());
  std::string lines;
  for (const json& row :
       {json{{"id", "1"}, {"answer", "left lung"}, {"prediction", "left lung opacity"}, {"question_type", "open"}},
        json{{"id", "2"}, {"answer", "heart"}, {"prediction", "benign tumor"}, {"question_type", "open"}},
        json{{"id", "3"}, {"answer", "no"}, {"prediction", "no"}, {"question_type", "closed"}}})
    lines += row.dump() + "\n";
  test::write_text(dir / "predictions.jsonl", lines);
}

TEST(CliBertScore, ScoreWithAndWithoutModel) {
  test::TempDir dir;
  write_vqa_run(dir, json::object());
  auto r = mvb_cmd({"score", dir.path(), "--bertscore_model", bert(), "--device", "cpu", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json m = json::parse(test::read_text(dir / "metrics.json"));
  ASSERT_TRUE(m["metrics"].contains("bertscore_open")) << m["notes"].dump();
  const double with_flag = m["metrics"]["bertscore_open"].get<double>();
  EXPECT_GT(with_flag, 0.0);
  EXPECT_LT(with_flag, 1.0);
  EXPECT_NE(test::read_text(dir / "results.csv").find("bertscore_open"), std::string::npos);

  r = mvb_cmd({"score", dir.path(), "--bertscore_model", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  m = json::parse(test::read_text(dir / "metrics.json"));
  EXPECT_FALSE(m["metrics"].contains("bertscore_open"));
  EXPECT_NE(m["notes"].dump().find("bertscore_open: absent"), std::string::npos) << m["notes"].dump();

  // The folder `eval --bertscore_model` recorded in run.json is used when the flag is not given.
  write_vqa_run(dir, {{"bertscore_model", bert()}});
  r = mvb_cmd({"score", dir.path(), "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  m = json::parse(test::read_text(dir / "metrics.json"));
  EXPECT_DOUBLE_EQ(m["metrics"]["bertscore_open"].get<double>(), with_flag);
}

TEST(CliBertScore, EvalRecordsTheFlagAndBadFoldersExitTwo) {
  test::TempDir exp;
  const auto r = mvb_cmd({"eval", "--task", "diagnosis", "--dataset", "ChestXray", "--split", "test", "--model",
                          "tiny-fixture", "--model_path", "original_pretrained", "--image_path",
                          test::fixture_path("demo/ChestXray"), "--exp_path", exp.path(), "--log_level", "warn",
                          "--bertscore_model", std::filesystem::relative(bert()).string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json run =
      json::parse(test::read_text(exp / "diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained/run.json"));
  // Given relative, recorded absolute: `score` must find it from any working directory.
  EXPECT_EQ(run["config"]["bertscore_model"], std::filesystem::absolute(bert()).lexically_normal().string());

  for (const std::string cmd : {"eval", "score"}) {
    const auto bad =
        mvb_cmd({cmd, cmd == "score" ? exp.path() : "--task=vqa", "--bertscore_model", "/nonexistent/bert"});
    EXPECT_EQ(bad.exit_code, 2) << cmd << ": " << bad.err;
    EXPECT_NE(bad.err.find("bertscore_model"), std::string::npos) << bad.err;
  }
}

}  // namespace
}  // namespace mvb
