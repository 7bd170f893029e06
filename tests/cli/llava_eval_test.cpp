// LLaVA-1.5 and LLaVA-Med end to end through the executable: `eval --task vqa` (SLAKE fixture) and
// `eval --task caption` (MIMIC_CXR fixture) with the tiny checkpoints of
// tests/oracles/models/make_llava_fixtures.py. The weights are random, so the answers are noise; what
// is checked is that every sample yields a row with the reference's prompt, token counts and no
// error, that run.json says which preprocessing ran, and that a rerun gives the same predictions.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;

// The run folder is checked too: exp/<task>/<dataset>/<model>/eval_seed0/<checkpoint folder>.
test::EvalRun eval(const std::string& task, const std::string& dataset, const std::string& model,
                   const std::string& ckpt, const std::string& exp) {
  test::EvalRun run = test::run_eval({task, dataset, model, test::fixture_path("models/llava/" + ckpt), exp, {}});
  if (!run.dir.empty()) {
    EXPECT_EQ(run.dir, exp + "/" + task + "/" + dataset + "/" + model + "/eval_seed0/" + ckpt);
  }
  return run;
}

const json& model_description(const json& run) { return run.contains("model") ? run["model"] : run; }

TEST(CliLlava, VqaWithLlava15OriginalLayout) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir dir;
  const test::EvalRun a = eval("vqa", "SLAKE", "LLaVA-1.5", "original", dir / "a");
  ASSERT_FALSE(a.rows.empty());
  for (const json& row : a.rows) {
    EXPECT_FALSE(row.contains("error") && !row["error"].get<std::string>().empty()) << row.dump();
    const std::string prompt = row.value("prompt", "");
    EXPECT_EQ(prompt.rfind("A chat between a curious user and an artificial intelligence assistant.", 0), 0u) << prompt;
    // The user turn is the task's prompt template around the question, behind "<image>\n".
    EXPECT_NE(prompt.find(" USER: <image>\n"), std::string::npos) << prompt;
    EXPECT_NE(prompt.find(row.value("question", std::string("?")) + " ASSISTANT:"), std::string::npos) << prompt;
    EXPECT_GT(row.value("completion_tokens", 0), 0) << row.dump();
    EXPECT_GT(row.value("prompt_tokens", 0), 4) << "the 4 image embeddings count as prompt positions";
  }
  const json& m = model_description(a.manifest);
  EXPECT_NE(m.dump().find("single pass"), std::string::npos) << m.dump();
  EXPECT_NE(m.dump().find("vicuna_v1"), std::string::npos) << m.dump();
  // Greedy decoding: a second run writes the same predictions.
  const test::EvalRun b = eval("vqa", "SLAKE", "LLaVA-1.5", "original", dir / "b");
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) EXPECT_EQ(a.rows[i]["prediction"], b.rows[i]["prediction"]) << i;
}

TEST(CliLlava, VqaWithLlavaHfLayoutEqualsOriginalLayout) {
  test::TempDir dir;
  // The two folders hold the same weights in the two layouts: the same answers.
  const test::EvalRun hf = eval("vqa", "SLAKE", "LLaVA-1.5", "hf", dir / "hf");
  const test::EvalRun orig = eval("vqa", "SLAKE", "LLaVA-1.5", "original", dir / "orig");
  ASSERT_FALSE(hf.rows.empty());
  ASSERT_EQ(hf.rows.size(), orig.rows.size());
  for (size_t i = 0; i < hf.rows.size(); ++i) EXPECT_EQ(hf.rows[i]["prediction"], orig.rows[i]["prediction"]) << i;
}

TEST(CliLlava, CaptionWithLlavaMed) {
  test::TempDir dir;
  const test::EvalRun a = eval("caption", "MIMIC_CXR", "LLaVA-Med", "med", dir / "a");
  ASSERT_FALSE(a.rows.empty());
  for (const json& row : a.rows) {
    EXPECT_FALSE(row.contains("error") && !row["error"].get<std::string>().empty()) << row.dump();
    EXPECT_EQ(row.value("prompt", ""), "[INST] <image>\nCan you provide a medical report for this image? [/INST]");
    EXPECT_GT(row.value("completion_tokens", 0), 0) << row.dump();
  }
  const json& m = model_description(a.manifest);
  EXPECT_NE(m.dump().find("mistral_instruct"), std::string::npos) << m.dump();
  EXPECT_NE(m.dump().find("seeded with each request's seed"), std::string::npos) << m.dump();
}

}  // namespace
}  // namespace mvb
