// The agents over a local generative model (the tiny random LLaVA-1.5 of
// tests/oracles/models/make_llava_fixtures.py), end to end through the executable: every sample gets a
// row with its whole trace, metrics carry the agent block, and UCAgent's sampled experts (temperature
// 0.7) give the same answers when the run is repeated with the same --seed, because each call's seed
// comes from --seed, the sample and the role (not from the batch the call ran in).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace mvb::agents {
namespace {

using json = nlohmann::json;

std::vector<json> read_rows(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(test::read_text(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

std::vector<json> run_agent(const std::string& usage, const std::string& exp, const std::string& batch,
                            std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {test::exe_path(),   "eval",
                                "--task",           "vqa",
                                "--dataset",        "SLAKE",
                                "--split",          "test",
                                "--image_path",     test::fixture_path("datasets/SLAKE"),
                                "--model",          "LLaVA-1.5",
                                "--model_path",     test::fixture_path("models/llava/hf"),
                                "--usage",          usage,
                                "--exp_path",       exp,
                                "--max_new_tokens", "12",
                                "--batch_size",     batch,
                                "--bootstrap",      "0",
                                "--device",         "cpu"};
  a.insert(a.end(), extra.begin(), extra.end());
  const auto r = test::run_command(a);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string dir = exp + "/vqa/SLAKE/LLaVA-1.5/eval_seed0/hf/" + usage;
  if (!std::filesystem::exists(dir + "/predictions.jsonl")) {
    ADD_FAILURE() << "no predictions in " << dir << "\n" << r.err;
    return {};
  }
  const json metrics = json::parse(test::read_text(dir + "/metrics.json"));
  EXPECT_EQ(metrics["agent"]["samples"], 4) << metrics.dump();
  return read_rows(dir + "/predictions.jsonl");
}

TEST(AgentsLocalModel, MdAgentRunsOverTinyLlava) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir dir;
  const auto rows = run_agent("mdagent", dir / "md", "4", {"--mdagent_mode", "intermediate"});
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    EXPECT_FALSE(row.contains("error") && !row["error"].is_null()) << row.dump();
    ASSERT_TRUE(row.contains("trace")) << row.dump();
    EXPECT_GE(row["trace"]["steps"].size(), 2u) << row.dump();
    EXPECT_EQ(row["prediction"], row["trace"]["final_answer"]);
    for (const auto& call : row["agent"]["steps"]) EXPECT_LE(call.value("completion_tokens", 0), 12) << call.dump();
  }
}

TEST(AgentsLocalModel, UcAgentSampledExpertsAreReproducibleWithASeed) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir dir;
  // Batch 4 versus batch 1: the same seeds whatever batch a call lands in.
  const auto a = run_agent("ucagent", dir / "a", "4");
  const auto b = run_agent("ucagent", dir / "b", "1");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["prediction"], b[i]["prediction"]) << i;
    EXPECT_EQ(a[i]["trace"].dump(), b[i]["trace"].dump()) << i;
  }
}

}  // namespace
}  // namespace mvb::agents
