// LLaVA-1.5 and LLaVA-Med end to end through the executable: `eval --task vqa` (SLAKE fixture) and
// `eval --task caption` (MIMIC_CXR fixture) with the tiny checkpoints of
// tests/oracles/models/make_llava_fixtures.py. The weights are random, so the answers are noise; what
// is checked is that every sample yields a row with the reference's prompt, token counts and no
// error, that run.json says which preprocessing ran, and that a rerun gives the same predictions.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

std::vector<json> read_rows(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(test::read_text(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

struct EvalRun {
  std::vector<json> rows;
  json run;
};

EvalRun eval(const std::string& task, const std::string& dataset, const std::string& model, const std::string& ckpt,
             const std::string& exp) {
  const std::string data = test::fixture_path("datasets/" + dataset);
  const auto r = mvb_cmd({"eval", "--task", task, "--dataset", dataset, "--split", "test", "--image_path", data,
                          "--model", model, "--model_path", test::fixture_path("models/llava/" + ckpt), "--exp_path",
                          exp, "--bootstrap", "0", "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string dir = exp + "/" + task + "/" + dataset + "/" + model + "/eval_seed0/" + ckpt;
  EvalRun out;
  if (!std::filesystem::exists(dir + "/predictions.jsonl")) {
    ADD_FAILURE() << "no predictions in " << dir << "\n" << r.out << r.err;
    return out;
  }
  out.rows = read_rows(dir + "/predictions.jsonl");
  out.run = json::parse(test::read_text(dir + "/run.json"));
  return out;
}

const json& model_description(const json& run) { return run.contains("model") ? run["model"] : run; }

TEST(CliLlava, VqaWithLlava15OriginalLayout) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir dir;
  const EvalRun a = eval("vqa", "SLAKE", "LLaVA-1.5", "original", dir / "a");
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
  const json& m = model_description(a.run);
  EXPECT_NE(m.dump().find("single pass"), std::string::npos) << m.dump();
  EXPECT_NE(m.dump().find("vicuna_v1"), std::string::npos) << m.dump();
  // Greedy decoding: a second run writes the same predictions.
  const EvalRun b = eval("vqa", "SLAKE", "LLaVA-1.5", "original", dir / "b");
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) EXPECT_EQ(a.rows[i]["prediction"], b.rows[i]["prediction"]) << i;
}

TEST(CliLlava, VqaWithLlavaHfLayoutEqualsOriginalLayout) {
  test::TempDir dir;
  // The two folders hold the same weights in the two layouts: the same answers.
  const EvalRun hf = eval("vqa", "SLAKE", "LLaVA-1.5", "hf", dir / "hf");
  const EvalRun orig = eval("vqa", "SLAKE", "LLaVA-1.5", "original", dir / "orig");
  ASSERT_FALSE(hf.rows.empty());
  ASSERT_EQ(hf.rows.size(), orig.rows.size());
  for (size_t i = 0; i < hf.rows.size(); ++i) EXPECT_EQ(hf.rows[i]["prediction"], orig.rows[i]["prediction"]) << i;
}

TEST(CliLlava, CaptionWithLlavaMed) {
  test::TempDir dir;
  const EvalRun a = eval("caption", "MIMIC_CXR", "LLaVA-Med", "med", dir / "a");
  ASSERT_FALSE(a.rows.empty());
  for (const json& row : a.rows) {
    EXPECT_FALSE(row.contains("error") && !row["error"].get<std::string>().empty()) << row.dump();
    EXPECT_EQ(row.value("prompt", ""), "[INST] <image>\nCan you provide a medical report for this image? [/INST]");
    EXPECT_GT(row.value("completion_tokens", 0), 0) << row.dump();
  }
  const json& m = model_description(a.run);
  EXPECT_NE(m.dump().find("mistral_instruct"), std::string::npos) << m.dump();
  EXPECT_NE(m.dump().find("seeded with each request's seed"), std::string::npos) << m.dump();
}

}  // namespace
}  // namespace mvb
