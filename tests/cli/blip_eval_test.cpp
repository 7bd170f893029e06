// BLIP end to end through the executable, with the tiny checkpoints of
// tests/oracles/models/make_blip_fixtures.py: `eval --task vqa` (SLAKE fixture) with the
// BlipForQuestionAnswering checkpoint, batched; `eval --task diagnosis --usage clip-zs` with the
// retrieval (ITC) checkpoint; `train` + `eval --usage lp` on the ChestXray demo. The weights are random,
// so what is checked is that every sample yields a row without error, that batching does not change an
// answer, and that the diagnosis usages produce metrics.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;
using test::run_mvb;

std::string blip(const std::string& folder) { return test::fixture_path("models/blip/" + folder); }

// The predictions of `eval --task vqa` on SLAKE, written to exp/vqa/SLAKE/BLIP/eval_seed0/vqa.
std::vector<json> eval_vqa(const std::string& exp, const std::string& batch) {
  const test::EvalRun run = test::run_eval({"vqa", "SLAKE", "BLIP", blip("vqa"), exp, {"--batch_size", batch}});
  if (!run.dir.empty()) {
    EXPECT_EQ(run.dir, exp + "/vqa/SLAKE/BLIP/eval_seed0/vqa");
  }
  return run.rows;
}

TEST(CliBlip, VqaAnswersEverySampleAndBatchingChangesNothing) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir dir;
  const auto one = eval_vqa(dir / "one", "1");
  const auto four = eval_vqa(dir / "four", "4");
  ASSERT_FALSE(one.empty());
  ASSERT_EQ(one.size(), four.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_FALSE(one[i].contains("error") && !one[i]["error"].get<std::string>().empty()) << one[i].dump();
    EXPECT_GT(one[i].value("completion_tokens", 0), 0) << one[i].dump();
    EXPECT_EQ(one[i]["prediction"], four[i]["prediction"]) << i;
  }
  const json run = json::parse(test::read_text(dir / "one/vqa/SLAKE/BLIP/eval_seed0/vqa/run.json"));
  EXPECT_NE(run["model"].dump().find("BlipForQuestionAnswering"), std::string::npos) << run["model"].dump();
}

TEST(CliBlip, DiagnosisClipZsThroughTheItcHead) {
  test::TempDir dir;
  const auto r = run_mvb({"eval",        "--task",       "diagnosis",
                          "--dataset",   "ChestXray",    "--split",
                          "test",        "--usage",      "clip-zs",
                          "--model",     "BLIP",         "--model_path",
                          blip("itm"),   "--image_path", test::fixture_path("demo/ChestXray"),
                          "--exp_path",  dir.path(),     "--bootstrap",
                          "0",           "--device",     "cpu",
                          "--log_level", "warn"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string run = dir / "diagnosis/ChestXray/BLIP/eval_seed0/itm/clip-zs";
  const json metrics = json::parse(test::read_text(run + "/metrics.json"));
  EXPECT_TRUE(metrics["metrics"]["auc"].is_number()) << metrics.dump();
  EXPECT_EQ(metrics.value("num_errors", -1), 0) << metrics.dump();
  // A checkpoint without an image-text head is refused for clip-zs, naming the fix.
  const auto refused =
      run_mvb({"eval",       "--task",        "diagnosis", "--dataset",    "ChestXray",
               "--split",    "test",          "--usage",   "clip-zs",      "--model",
               "BLIP",       "--model_path",  blip("vqa"), "--image_path", test::fixture_path("demo/ChestXray"),
               "--exp_path", dir / "refused", "--device",  "cpu",          "--log_level",
               "warn"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("no BLIP image-text head"), std::string::npos) << refused.err;
}

TEST(CliBlip, DiagnosisLpTrainsOnTheClassTokenAndEvaluates) {
  test::TempDir dir;
  const auto t = run_mvb({"train",
                          "--task",
                          "diagnosis",
                          "--usage",
                          "lp",
                          "--dataset",
                          "ChestXray",
                          "--split",
                          "train",
                          "--model",
                          "BLIP",
                          "--model_path",
                          blip("vqa"),
                          "--image_path",
                          test::fixture_path("demo/ChestXray"),
                          "--output_dir",
                          dir.path(),
                          "--num_train_epochs",
                          "3",
                          "--learning_rate",
                          "0.01",
                          "--log_level",
                          "warn"});
  ASSERT_EQ(t.exit_code, 0) << t.out << t.err;
  const std::string run = dir / "diagnosis/ChestXray/BLIP/train_lp_seed0";
  const json head = json::parse(test::read_text(run + "/mvb_head.json"));
  EXPECT_EQ(head.value("embed_dim", 0), 32) << "lp features are the 32-wide class token: " << head.dump();
  const auto e = run_mvb({"eval",        "--task",       "diagnosis",
                          "--usage",     "lp",           "--dataset",
                          "ChestXray",   "--split",      "test",
                          "--model",     "BLIP",         "--model_path",
                          run,           "--image_path", test::fixture_path("demo/ChestXray"),
                          "--exp_path",  dir / "eval",   "--bootstrap",
                          "0",           "--device",     "cpu",
                          "--log_level", "warn"});
  ASSERT_EQ(e.exit_code, 0) << e.out << e.err;
}

}  // namespace
}  // namespace mvb
