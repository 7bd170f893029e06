// The prompts every role receives, the temperatures, the final answers and the traces equal, character
// for character, what the reference's own wrappers (MDAgentWrapper / UCAgentWrapper, imported
// unmodified by tests/oracles/agents/agent_prompts_oracle.py) produce over a stub backbone that
// answers from the same script as ours. UCAgent runs with the reference's MAX_RETRY = 1 (our
// --ucagent_retries 0) and with MAX_RETRY = 2 (our default, one retry).
#include <gtest/gtest.h>

#include <map>

#include "medvlmbench/agents/agents.h"
#include "scripted.h"
#include "support/test_support.h"

namespace mvb::agents {
namespace {

using test::reply;
using json = nlohmann::json;

json md(const std::string& name, const std::string& qs, const std::string& mode, json script = json::object()) {
  return {{"name", name}, {"agent", "mdagent"}, {"qs", qs}, {"mode", mode}, {"script", script}};
}
json uc(const std::string& name, const std::string& qs, int max_retry, json script) {
  return {{"name", name}, {"agent", "ucagent"}, {"qs", qs}, {"max_retry", max_retry}, {"script", script}};
}

json scenarios() {
  const std::string yn = "Answer the following question about the image with yes or no. Is there a mass?";
  const std::string mc =
      "Which finding is present?\nA. effusion\nB. nodule\nC. pneumothorax\nAnswer with the option's letter.";
  const json split = {{"level1_expert1", reply("yes/no", "Yes.")}, {"level1_expert2", reply("yes/no", "no")}};
  auto with = [](json base, json extra) {
    base.update(extra);
    return base;
  };
  json s = json::array();
  // MDAgent: every mode, adaptive picks, whitespace and non-ASCII text, empty evidence, outputs with
  // trailing newlines (kept in the notes), a failing role.
  s.push_back(md("md-basic", "Is the 肺 normal?  ", "basic"));
  s.push_back(md("md-intermediate", "What organ is shown?\n", "intermediate",
                 {{"visual_examiner", "Lungs, bilateral.\n"}, {"medical_specialist", ""}}));
  s.push_back(md("md-advanced", "Where is the lesion?", "advanced", {{"triage_lead", "1. locate\n2. size  "}}));
  s.push_back(md("md-adaptive-yes-no", yn, "adaptive"));
  s.push_back(md("md-adaptive-mc", mc, "adaptive"));
  s.push_back(md("md-adaptive-advanced", "Describe the abnormality seen", "adaptive"));
  s.push_back(md("md-adaptive-intermediate", "What organ is shown?", "adaptive"));
  s.push_back(md("md-adaptive-é", "Isé region {x} abnormal", "adaptive"));
  s.push_back(md("md-error", "What organ?", "intermediate", {{"skeptical_reviewer", "__RAISE__"}}));
  for (int max_retry : {1, 2}) {
    const std::string r = "-r" + std::to_string(max_retry);
    s.push_back(uc("uc-verified" + r, yn, max_retry,
                   {{"level1_expert1", reply("yes/no", "Yes")},
                    {"level1_expert2", reply("Yes/No", "yes")},
                    {"level2", reply("yes/no", "yes")}}));
    s.push_back(uc("uc-verifier-disagrees" + r, yn, max_retry,
                   {{"level1_expert1", reply("yes/no", "yes")},
                    {"level1_expert2", reply("yes/no", "yes")},
                    {"level2", reply("yes/no", "No, not really")},
                    {"level3_leader", "@ To Expert 1: sure?\n\n@ To Expert 1 who reviews Agent1: really?"},
                    {"level3_leader_final", reply("yes/no", "no")}}));
    s.push_back(uc("uc-debate" + r, yn, max_retry,
                   with(split, {{"level3_leader",
                                 "Inquiries:@ To Expert 1 who reviews Agent1: q1 @ To Expert 2 who "
                                 "reviews Agent2: q2"},
                                {"level3_leader_final", reply("yes/no", "YES")}})));
    s.push_back(uc("uc-debate-mc" + r, mc, max_retry,
                   {{"level1_expert1", reply("multi-choice", "B. nodule")},
                    {"level1_expert2", "#Question Type: multiple choice\r\n#Reasoning: r\r\n#Answer: (c)\r\n"},
                    {"level3_leader", "@ To Expert 2: why C?\n@ To Expert 0: and the last?\n@ To Expert 1: why B?"},
                    {"level3_leader_final", reply("multi-choice", "a")}}));
    s.push_back(uc("uc-open-braces" + r, "What organ is shown {x}?", max_retry,
                   {{"level1_expert1", reply("open", "Left lung {question}")},
                    {"level1_expert2", "#Answer: 肺 (lung)"},
                    {"level3_leader", "@Expert 1:x@Expert 2:y"},
                    {"level3_leader_final", reply("open", "the lung")}}));
    s.push_back(uc("uc-malformed-expert" + r, yn, max_retry,
                   {{"level1_expert1#1", "I believe yes."},
                    {"level1_expert1#2", reply("yes/no", "yes")},
                    {"level1_expert2", reply("yes/no", "yes")},
                    {"level2", reply("yes/no", "yes")},
                    {"zero_shot", "Yes."}}));
    s.push_back(uc("uc-malformed-expert2" + r, yn, max_retry,
                   {{"level1_expert1", reply("yes/no", "yes")},
                    {"level1_expert2#1", reply("yes/no", "unclear")},
                    {"level1_expert2#2", reply("yes/no", "unclear")},
                    {"zero_shot", " No "}}));
    s.push_back(uc("uc-malformed-verifier" + r, yn, max_retry,
                   {{"level1_expert1", reply("yes/no", "yes")},
                    {"level1_expert2", reply("yes/no", "yes")},
                    {"level2#1", ""},
                    {"level2#2", reply("yes/no", "yes")},
                    {"zero_shot", "yes"}}));
    s.push_back(uc("uc-leader-one-inquiry" + r, yn, max_retry,
                   with(split, {{"level3_leader", "@ To Expert 1: only this?"}, {"zero_shot", "no"}})));
    s.push_back(uc("uc-leader-no-expert-number" + r, yn, max_retry,
                   with(split, {{"level3_leader", "@ To the first: a?\n@ To Expert 2: b?"}, {"zero_shot", "no"}})));
    s.push_back(uc("uc-leader-expert-out-of-range" + r, yn, max_retry,
                   with(split, {{"level3_leader", "@ To Expert 1: a?\n@ To Expert 3: b?"}, {"zero_shot", "no"}})));
    s.push_back(uc("uc-verdict-malformed" + r, yn, max_retry,
                   with(split, {{"level3_leader", "@ To Expert 1: a?\n@ To Expert 2: b?"},
                                {"level3_leader_final", "#Question Type: yes/no\n#Answer: uncertain"},
                                {"zero_shot", "no"}})));
    s.push_back(uc("uc-critic-model-error" + r, yn, max_retry,
                   with(split, {{"level3_critic_no", "__RAISE__"}, {"zero_shot", "yes"}})));
    s.push_back(
        uc("uc-expert-model-error" + r, yn, max_retry, {{"level1_expert1", "__RAISE__"}, {"zero_shot", "yes"}}));
    s.push_back(uc("uc-fallback-fails" + r, yn, max_retry,
                   {{"level1_expert1", "nothing"}, {"level1_expert2", "nothing"}, {"zero_shot", "__RAISE__"}}));
  }
  return s;
}

std::map<std::string, std::string> script_of(const json& scenario) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : scenario["script"].items()) m[k] = v.get<std::string>();
  return m;
}

TEST(AgentOracle, PromptsTemperaturesAnswersAndTracesEqualTheReferenceWrappers) {
  MVB_REQUIRE_ORACLE_ENV();
  mvb::test::TempDir dir;
  const json all = scenarios();
  mvb::test::write_text(dir / "scenarios.json", all.dump(1));
  const auto r = mvb::test::run_oracle_script(mvb::test::OracleInterpreter::kOracleEnv,
                                              "agents/agent_prompts_oracle.py", {dir / "scenarios.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json ref = json::parse(r.out);
  ASSERT_EQ(ref.size(), all.size());
  size_t compared_calls = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const json& sc = all[i];
    const json& want = ref[i];
    SCOPED_TRACE(sc["name"].get<std::string>());
    test::ScriptedCaller caller(script_of(sc));
    AgentOutcome o;
    if (sc["agent"] == "mdagent") {
      o = run_mdagent(caller, sc["qs"], sc["mode"]);
      EXPECT_EQ(o.mode, want["resolved_mode"]);
    } else {
      o = run_ucagent(caller, sc["qs"], UcAgentOptions{sc["max_retry"].get<int>() - 1});
    }
    // Every call the reference made, and no other used call of ours.
    std::map<std::string, const AgentCall*> ours;
    for (const auto& c : caller.all) {
      const std::string key = c.role + "#" + std::to_string(c.attempt);
      if (!o.unused_calls.count(key)) ours[key] = &c;
    }
    std::map<std::string, json> theirs;
    for (const auto& c : want["calls"])
      theirs[c["role"].get<std::string>() + "#" + std::to_string(c["attempt"].get<int>())] = c;
    std::vector<std::string> our_keys, their_keys;
    for (const auto& kv : ours) our_keys.push_back(kv.first);
    for (const auto& kv : theirs) their_keys.push_back(kv.first);
    ASSERT_EQ(our_keys, their_keys);
    for (const auto& [key, c] : theirs) {
      SCOPED_TRACE(key);
      EXPECT_EQ(ours[key]->prompt, c["prompt"].get<std::string>());
      if (c["temperature"].is_null())
        EXPECT_FALSE(ours[key]->temperature.has_value());
      else
        EXPECT_EQ(ours[key]->temperature.value_or(-1), c["temperature"].get<double>());
      ++compared_calls;
    }
    if (want.contains("exception")) {
      EXPECT_FALSE(o.error.empty()) << "the reference raised: " << want["exception"];
      continue;
    }
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(o.answer, want["answer"].get<std::string>());
    EXPECT_EQ(o.trace, want["trace"]);
  }
  EXPECT_GT(compared_calls, 150u);
}

}  // namespace
}  // namespace mvb::agents
