// BLIP2-2.7b end to end with the tiny checkpoints of tests/oracles/models/make_blip2_fixtures.py:
// `eval --task vqa` (SLAKE) and `--task caption` (MIMIC-CXR) on Blip2ForConditionalGeneration, the
// reference's prompt echo behind --reference_compat, and the diagnosis usages on the
// Blip2ForImageTextRetrieval checkpoint (clip-zs, lp train + eval) on the ChestXray fixture.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;
using test::find_run_dir;
using test::run_mvb;

// BLIP2-2.7b's generative fixture, 12 new tokens, batches of 3.
test::EvalRun eval(const std::string& task, const std::string& dataset, const std::string& exp,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> flags = {"--max_new_tokens", "12", "--batch_size", "3"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return test::run_eval({task, dataset, "BLIP2-2.7b", test::fixture_path("models/blip2/opt"), exp, flags});
}

TEST(Blip2Eval, VqaAndCaptionRunEndToEnd) {
  for (const auto& [task, dataset] :
       std::vector<std::pair<std::string, std::string>>{{"vqa", "SLAKE"}, {"caption", "MIMIC_CXR"}}) {
    SCOPED_TRACE(task);
    test::TempDir exp;
    const test::EvalRun run = eval(task, dataset, exp.path());
    const auto& rows = run.rows;
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      const std::string prompt = row.at("prompt").get<std::string>();
      EXPECT_EQ(prompt.rfind("Question: ", 0), 0u) << prompt;
      EXPECT_EQ(prompt.substr(prompt.size() - 8), " Answer:") << prompt;
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 32);  // the 32 query embeddings and the text
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 12);
    }
    const json& manifest = run.manifest;
    EXPECT_EQ(manifest.at("model").at("architecture"), "Blip2ForConditionalGeneration (OPT)");
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), 12);
    EXPECT_EQ(manifest.at("model").at("reference_compat"), json::array());
  }
}

// --reference_compat blip2_prompt_echo: the prediction is the reference's "Question: ... Answer: ...".
TEST(Blip2Eval, ReferenceCompatEchoesThePrompt) {
  test::TempDir exp;
  const test::EvalRun run = eval("caption", "MIMIC_CXR", exp.path(), {"--reference_compat", "blip2_prompt_echo"});
  const auto& rows = run.rows;
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) {
    const std::string pred = row.at("prediction").get<std::string>();
    EXPECT_EQ(pred.rfind("Question: Can you provide a medical report for this image? Answer:", 0), 0u) << row.dump();
  }
  const json& manifest = run.manifest;
  EXPECT_EQ(manifest.at("model").at("reference_compat"), json({"blip2_prompt_echo"}));
}

TEST(Blip2Eval, DiagnosisZeroShotAndLinearProbe) {
  test::TempDir exp;
  const std::string itm = test::fixture_path("models/blip2/itm");
  const std::string data = test::fixture_path("demo/ChestXray");
  auto r =
      run_mvb({"eval",     "--task",     "diagnosis",        "--usage",     "clip-zs", "--dataset",   "ChestXray",
               "--split",  "test",       "--image_path",     data,          "--model", "BLIP2-2.7b",  "--model_path",
               itm,        "--exp_path", exp.path() + "/zs", "--bootstrap", "0",       "--log_level", "warn",
               "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string zs = find_run_dir(exp.path() + "/zs", "metrics.json");
  ASSERT_FALSE(zs.empty());
  const json m = json::parse(test::read_text(zs + "/metrics.json"));
  EXPECT_TRUE(m.at("metrics").at("auc").is_number()) << m.dump();
  EXPECT_EQ(m.at("num_errors"), 0);

  r = run_mvb({"train",
               "--task",
               "diagnosis",
               "--usage",
               "lp",
               "--dataset",
               "ChestXray",
               "--split",
               "train",
               "--image_path",
               data,
               "--model",
               "BLIP2-2.7b",
               "--model_path",
               itm,
               "--output_dir",
               exp.path() + "/lp",
               "--num_train_epochs",
               "3",
               "--learning_rate",
               "0.01",
               "--log_level",
               "warn",
               "--device",
               "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string lp = find_run_dir(exp.path() + "/lp", "mvb_head.json");
  ASSERT_FALSE(lp.empty());
  const json head = json::parse(test::read_text(lp + "/mvb_head.json"));
  EXPECT_EQ(head.at("embed_dim"), 32);  // the vision class token (the tiny tower's width)
  r = run_mvb({"eval",     "--task",     "diagnosis",         "--usage",     "lp",      "--dataset",   "ChestXray",
               "--split",  "test",       "--image_path",      data,          "--model", "BLIP2-2.7b",  "--model_path",
               lp,         "--exp_path", exp.path() + "/lpe", "--bootstrap", "0",       "--log_level", "warn",
               "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // clip-zs on the generative checkpoint (no ITC heads): one line naming what to use instead.
  r = run_mvb({"eval",
               "--task",
               "diagnosis",
               "--usage",
               "clip-zs",
               "--dataset",
               "ChestXray",
               "--split",
               "test",
               "--image_path",
               data,
               "--model",
               "BLIP2-2.7b",
               "--model_path",
               test::fixture_path("models/blip2/opt"),
               "--exp_path",
               exp.path() + "/bad",
               "--log_level",
               "warn",
               "--device",
               "cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("blip2-itm-vit-g"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mvb
