// VILA1.5 and VILA-M3 end to end through the executable: `eval --task vqa` (SLAKE fixture) with the tiny
// VILA checkpoint and `eval --task caption` (MIMIC_CXR fixture) with VILA-M3 given a LoRA adapter and
// its base (tests/oracles/models/make_vila_fixtures.py). The weights are random, so the answers are
// noise; what is checked is that every sample yields a row with the reference's prompt (the Llama-3
// chat template over "<image>" + question), token counts and no error, and that run.json says what ran.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

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
             const std::string& base, const std::string& exp) {
  const std::string data = test::fixture_path("datasets/" + dataset);
  std::vector<std::string> args = {test::exe_path(), "eval",
                                   "--task",         task,
                                   "--dataset",      dataset,
                                   "--split",        "test",
                                   "--image_path",   data,
                                   "--model",        model,
                                   "--model_path",   test::fixture_path("models/vila/" + ckpt),
                                   "--exp_path",     exp,
                                   "--bootstrap",    "0",
                                   "--device",       "cpu"};
  if (!base.empty()) {
    args.push_back("--model_base");
    args.push_back(test::fixture_path("models/vila/" + base));
  }
  const auto r = test::run_command(args);
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

constexpr const char* kUserTurn = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<image>";
constexpr const char* kAssistant = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

TEST(CliVila, VqaWithVila15) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir dir;
  const EvalRun a = eval("vqa", "SLAKE", "VILA1.5", "base", "", dir / "a");
  ASSERT_FALSE(a.rows.empty());
  for (const json& row : a.rows) {
    EXPECT_FALSE(row.contains("error") && !row["error"].get<std::string>().empty()) << row.dump();
    const std::string prompt = row.value("prompt", "");
    // "<image>" + the task's prompt (no newline), inside the Llama-3 template.
    EXPECT_EQ(prompt.rfind(kUserTurn, 0), 0u) << prompt;
    EXPECT_NE(prompt.find(row.value("question", std::string("?"))), std::string::npos) << prompt;
    EXPECT_EQ(prompt.substr(prompt.size() - std::string(kAssistant).size()), kAssistant) << prompt;
    EXPECT_GT(row.value("completion_tokens", 0), 0) << row.dump();
    EXPECT_GT(row.value("prompt_tokens", 0), 18) << "16 image embeddings and 2 end tokens count as prompt positions";
  }
  const json& m = model_description(a.run);
  EXPECT_NE(m.dump().find("VILA1.5 (LlavaLlamaModel"), std::string::npos) << m.dump();
  EXPECT_NE(m.dump().find("mlp_downsample"), std::string::npos) << m.dump();
}

TEST(CliVila, CaptionWithVilaM3LoraOnItsBase) {
  test::TempDir dir;
  const EvalRun a = eval("caption", "MIMIC_CXR", "VILA-M3", "lora", "base", dir / "a");
  ASSERT_FALSE(a.rows.empty());
  for (const json& row : a.rows) {
    EXPECT_FALSE(row.contains("error") && !row["error"].get<std::string>().empty()) << row.dump();
    EXPECT_EQ(row.value("prompt", ""),
              std::string(kUserTurn) + "Can you provide a medical report for this image?" + kAssistant);
    EXPECT_GT(row.value("completion_tokens", 0), 0) << row.dump();
  }
  const json& m = model_description(a.run);
  EXPECT_NE(m.dump().find("modules merged"), std::string::npos) << m.dump();
  EXPECT_NE(m.dump().find("Efficient-Large-Model/Llama-3-VILA1.5-8B"), std::string::npos)
      << "run.json names the base the reference would have used";
}

}  // namespace
}  // namespace mvb
