// End to end through the CLI: `medvlmbench eval --usage mdagent|ucagent` on the SLAKE fixture with the
// loopback API server: traces complete in predictions.jsonl and predictions.json, the "agent" block in
// metrics.json, every role's prompt on the wire, a cached re-run that is free and identical, and
// --resume that redoes only the samples without a row.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "fake_api_server.h"
#include "medvlmbench/io/jsonl.h"
#include "scripted.h"
#include "support/test_support.h"

namespace mvb::agents {
namespace {

using json = nlohmann::json;

// Answers by role, read from the prompt. Level-1 experts agree on "Is this image normal?" and
// disagree (one "yes", one "no", whichever asks first) elsewhere, so both paths run.
struct AgentServer {
  mvb::test::FakeApiServer server;
  std::mutex mu;
  std::map<std::string, int> seen;
  AgentServer() {
    server.answer = [this](const std::string& p) -> std::string {
      if (p.find("You are acting as the") != std::string::npos) {
        const size_t a = p.find("the ") + 4;
        return "notes of the " + p.substr(a, p.find(" in a medical") - a);
      }
      if (p.find("[Core Identity] You are a professional") != std::string::npos) {
        if (p.find("Is this image normal?") != std::string::npos) return test::reply("yes/no", "no");
        std::lock_guard<std::mutex> lock(mu);
        return test::reply("open", seen[p]++ % 2 ? "lung" : "liver");
      }
      if (p.find("authoritative senior") != std::string::npos) return test::reply("yes/no", "no");
      if (p.find("Lead Adjudicator") != std::string::npos) return "@ To Expert 1: a?\n@ To Expert 2: b?";
      if (p.find("[Task 2]") != std::string::npos) return test::reply("open", "Lung");
      if (p.find("Please answer the question from the leader") != std::string::npos) return "I stand by it.";
      if (p.find("Hypothesis Auditor") != std::string::npos) return "#Flaws: few. Counter Evidence: none.";
      return "zero-shot answer";
    };
  }
};

struct AgentE2E : ::testing::Test {
  mvb::test::TempDir dir;
  AgentServer fake;
  void SetUp() override {
    setenv("MVB_API_KEY", "sk-agents-e2e", 1);
    for (const char* k : {"OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"}) unsetenv(k);
  }
  std::vector<std::string> args(const std::string& usage, const std::string& exp, const std::string& cache,
                                std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {mvb::test::exe_path(),
                                  "eval",
                                  "--task",
                                  "vqa",
                                  "--dataset",
                                  "SLAKE",
                                  "--split",
                                  "test",
                                  "--image_path",
                                  mvb::test::fixture_path("datasets/SLAKE"),
                                  "--model",
                                  "openai-compatible",
                                  "--api_base",
                                  fake.server.openai_base(),
                                  "--api_model",
                                  "gpt-4o-mini",
                                  "--model_path",
                                  "original_pretrained",
                                  "--exp_path",
                                  exp,
                                  "--cache_dir",
                                  cache,
                                  "--bootstrap",
                                  "0",
                                  "--save_pred",
                                  "--usage",
                                  usage};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::string run_dir(const std::string& exp, const std::string& usage) {
    return exp + "/vqa/SLAKE/openai-compatible/eval_seed0/original_pretrained/" + usage;
  }
};

const std::map<std::string, std::vector<std::string>> kRoles = {
    {"basic", {"primary_clinician"}},
    {"intermediate", {"visual_examiner", "medical_specialist", "skeptical_reviewer", "moderator"}},
    {"advanced",
     {"triage_lead", "visual_examiner", "differential_diagnostician", "quality_reviewer", "chief_moderator"}}};

TEST_F(AgentE2E, MdAgentAllModesWriteCompleteTracesAndMetrics) {
  ASSERT_TRUE(std::filesystem::exists(mvb::test::exe_path())) << "build medvlmbench first";
  for (const std::string mode : {"basic", "intermediate", "advanced", "adaptive"}) {
    SCOPED_TRACE(mode);
    fake.server.clear_requests();
    const std::string exp = dir / ("md-" + mode);
    auto r = mvb::test::run_command(args("mdagent", exp, dir / ("cache-" + mode), {"--mdagent_mode", mode}));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string rd = run_dir(exp, "mdagent");
    const auto rows = io::read_jsonl(rd + "/predictions.jsonl").rows;
    ASSERT_EQ(rows.size(), 4u);  // the English questions
    size_t calls = 0;
    for (const auto& row : rows) {
      EXPECT_FALSE(row.contains("status")) << row.dump();
      const json& agent = row["agent"];
      const std::string m = agent["mode"];
      if (mode != "adaptive") {
        EXPECT_EQ(m, mode);
      }
      const auto& roles = kRoles.at(m);
      ASSERT_EQ(agent["steps"].size(), roles.size());
      ASSERT_EQ(row["trace"]["steps"].size(), roles.size());
      for (size_t k = 0; k < roles.size(); ++k) {
        const json& step = agent["steps"][k];
        EXPECT_EQ(step["role"], roles[k]);
        EXPECT_EQ(row["trace"]["steps"][k]["agent"], roles[k]);
        EXPECT_EQ(step["output"], row["trace"]["steps"][k]["output"]);
        EXPECT_EQ(step["stage"], k + 1);
        for (const char* key : {"prompt", "sent_prompt", "temperature", "seed", "prompt_tokens", "completion_tokens",
                                "latency_s", "cached"})
          EXPECT_TRUE(step.contains(key)) << key << " missing: " << step.dump();
        // What the server got: the role prompt plus the reference's API suffix (unless it asks "yes or no").
        const std::string prompt = step["prompt"];
        EXPECT_EQ(step["sent_prompt"].get<std::string>(),
                  prompt.find("yes or no") != std::string::npos
                      ? prompt
                      : prompt + "\n\nPlease answer the question concisely in no more than 2 sentences.");
      }
      EXPECT_EQ(row["prediction"], row["trace"]["final_answer"]);
      EXPECT_EQ(row["trace"]["mode"], m);
      calls += roles.size();
    }
    EXPECT_EQ(fake.server.request_count(), calls);
    if (mode == "adaptive") {
      // "Is this image normal?" / "Is this normal or abnormal?" are yes/no -> basic; the others intermediate.
      EXPECT_EQ(rows[0]["agent"]["mode"], "intermediate");
      EXPECT_EQ(rows[2]["agent"]["mode"], "basic");
    }
    const json metrics = json::parse(mvb::test::read_text(rd + "/metrics.json"));
    EXPECT_EQ(metrics["usage"], "mdagent");
    EXPECT_EQ(metrics["agent"]["samples"], 4);
    EXPECT_DOUBLE_EQ(metrics["agent"]["calls_per_sample"].get<double>(), calls / 4.0);
    EXPECT_TRUE(metrics["agent"]["cost_per_sample_usd"].is_number());  // gpt-4o-mini has a price
    EXPECT_GT(metrics["agent"]["prompt_tokens_per_sample"].get<double>(), 0);
    const json pred = json::parse(mvb::test::read_text(rd + "/predictions.json"));
    ASSERT_EQ(pred.size(), 4u);
    for (const auto& p : pred) {
      EXPECT_TRUE(p["trace"].contains("steps"));
      EXPECT_TRUE(p["trace"].contains("final_answer"));
      EXPECT_EQ(p["prediction"], p["trace"]["final_answer"]);
    }
  }
}

TEST_F(AgentE2E, UcAgentTracesMetricsCachedRerunAndResume) {
  ASSERT_TRUE(std::filesystem::exists(mvb::test::exe_path())) << "build medvlmbench first";
  const std::string exp = dir / "uc", cache = dir / "uc-cache";
  auto r = mvb::test::run_command(args("ucagent", exp, cache));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string rd = run_dir(exp, "ucagent");
  const auto rows = io::read_jsonl(rd + "/predictions.jsonl").rows;
  ASSERT_EQ(rows.size(), 4u);
  const size_t requests = fake.server.request_count();
  size_t calls = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.dump());
    const json& agent = row["agent"];
    calls += agent["steps"].size();
    EXPECT_FALSE(agent["fallback"].get<bool>());
    if (row["question"] == "Is this image normal?") {
      // Agreement ("no"), the verifier agrees: level 2.
      EXPECT_EQ(agent["level"], 2);
      EXPECT_EQ(row["prediction"], "no");
      EXPECT_EQ(agent["steps"].size(), 3u);
    } else {
      // Disagreement (lung / liver): two critics, the leader, two rebuttals, the verdict.
      EXPECT_EQ(agent["level"], 3);
      EXPECT_EQ(row["prediction"], "Lung");
      for (const char* k : {"level1_expert1", "level1_expert2", "level3_critic_lung", "level3_critic_liver",
                            "level3_leader", "level3_rebuttal_lung", "level3_rebuttal_liver", "level3_leader_final"})
        EXPECT_TRUE(row["trace"].contains(k)) << k;
      EXPECT_EQ(agent["steps"].size(), 8u);
    }
    // The experts' temperature and distinct seeds (two draws, not one cached answer).
    EXPECT_EQ(agent["steps"][0]["temperature"], 0.7);
    EXPECT_NE(agent["steps"][0]["seed"], agent["steps"][1]["seed"]);
  }
  EXPECT_EQ(requests, calls);
  // The server saw the temperatures and seeds.
  std::set<double> temps;
  for (const auto& req : fake.server.requests()) temps.insert(json::parse(req.body)["temperature"].get<double>());
  EXPECT_EQ(temps, (std::set<double>{0.1, 0.5, 0.7}));
  const json metrics = json::parse(mvb::test::read_text(rd + "/metrics.json"));
  EXPECT_DOUBLE_EQ(metrics["agent"]["fallback_rate"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(metrics["agent"]["agreement_rate"].get<double>(), 0.25);
  EXPECT_EQ(metrics["agent"]["level_counts"]["3"], 3);
  const json pred = json::parse(mvb::test::read_text(rd + "/predictions.json"));
  EXPECT_TRUE(pred[0]["trace"].contains("level1_expert1"));

  // A re-run with the same cache: no request, the same rows.
  fake.server.clear_requests();
  const std::string exp2 = dir / "uc2";
  r = mvb::test::run_command(args("ucagent", exp2, cache));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fake.server.request_count(), 0u);
  const auto rows2 = io::read_jsonl(run_dir(exp2, "ucagent") + "/predictions.jsonl").rows;
  ASSERT_EQ(rows2.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows2[i]["prediction"], rows[i]["prediction"]);
    EXPECT_EQ(rows2[i]["trace"], rows[i]["trace"]);
  }

  // --resume after an interruption that left two finished rows and a torn third line: only the
  // samples without a row are asked again (no cache, so every call reaches the server).
  std::string kept;
  {
    const std::string text = mvb::test::read_text(rd + "/predictions.jsonl");
    size_t pos = 0;
    for (int k = 0; k < 2; ++k) pos = text.find('\n', pos) + 1;
    kept = text.substr(0, pos) + text.substr(pos, 40);  // a torn row
  }
  mvb::test::write_text(rd + "/predictions.jsonl", kept);
  fake.server.clear_requests();
  r = mvb::test::run_command(args("ucagent", exp, dir / "fresh-cache", {"--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto resumed = io::read_jsonl(rd + "/predictions.jsonl").rows;
  ASSERT_EQ(resumed.size(), 4u);
  EXPECT_EQ(fake.server.request_count(), rows[2]["agent"]["steps"].size() + rows[3]["agent"]["steps"].size());
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(resumed[i]["id"], rows[i]["id"]);
    EXPECT_EQ(resumed[i]["agent"]["steps"].size(), rows[i]["agent"]["steps"].size());
  }
  const json m2 = json::parse(mvb::test::read_text(rd + "/metrics.json"));
  EXPECT_EQ(m2["agent"]["samples"], 4);
  EXPECT_EQ(m2["num_scored"], 4);
}

// Caption: the agent gets the caption prompt; predictions.json keeps the reference's caption layout.
TEST_F(AgentE2E, CaptionWithBothAgents) {
  ASSERT_TRUE(std::filesystem::exists(mvb::test::exe_path())) << "build medvlmbench first";
  for (const std::string usage : {"mdagent", "ucagent"}) {
    SCOPED_TRACE(usage);
    std::vector<std::string> a = args(usage, dir / ("cap-" + usage), dir / "cap-cache", {"--limit", "2"});
    for (size_t i = 0; i + 1 < a.size(); ++i) {
      if (a[i] == "--task") a[i + 1] = "caption";
      if (a[i] == "--dataset") a[i + 1] = "MIMIC_CXR";
      if (a[i] == "--image_path") a[i + 1] = mvb::test::fixture_path("datasets/MIMIC_CXR");
    }
    auto r = mvb::test::run_command(a);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string rd =
        dir / ("cap-" + usage) + "/caption/MIMIC_CXR/openai-compatible/eval_seed0/original_pretrained/" + usage;
    const auto rows = io::read_jsonl(rd + "/predictions.jsonl").rows;
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) {
      EXPECT_EQ(row["prompt"], "Can you provide a medical report for this image?");
      EXPECT_FALSE(row["agent"]["steps"].empty());
      EXPECT_FALSE(row["prediction"].get<std::string>().empty());
    }
    const json pred = json::parse(mvb::test::read_text(rd + "/predictions.json"));
    ASSERT_EQ(pred.size(), 2u);
    EXPECT_TRUE(pred[0].contains("prediciton"));  // sic, the reference's key
    EXPECT_EQ(pred[0]["trace"], rows[0]["trace"]);
    const json metrics = json::parse(mvb::test::read_text(rd + "/metrics.json"));
    EXPECT_EQ(metrics["agent"]["samples"], 2);
  }
}

}  // namespace
}  // namespace mvb::agents
