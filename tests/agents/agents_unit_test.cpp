// The agents' branches with a scripted backend: MDAgent's adaptive rules and their boundaries, its
// role sequences and evidence; UCAgent's parser and every path (agreement, verification, debate,
// malformed output, retry, fallback, model errors, the leader's expert numbers); the batch driver's
// stages and seeds.
#include <gtest/gtest.h>

#include <mutex>

#include "medvlmbench/agents/agents.h"
#include "scripted.h"

namespace mvb::agents {
namespace {

using test::reply;
using test::ScriptedCaller;

// ---- MDAgent ---------------------------------------------------------------------------------------

TEST(MdAgentMode, AdaptiveRulesAndBoundaries) {
  auto mode = [](const std::string& q) { return resolve_mdagent_mode(q, "adaptive"); };
  // Multiple choice markers.
  EXPECT_EQ(mode("Which organ? Answer choices: A. lung B. liver"), "basic");
  EXPECT_EQ(mode("Which organ? Answer with the single letter of the option."), "basic");
  EXPECT_EQ(mode("Pick one (A) lung"), "basic");  // lowered: "(a)"
  EXPECT_EQ(mode("Pick one (c)"), "basic");
  EXPECT_EQ(mode("Pick one (d)"), "intermediate");  // only (a), (b), (c) are markers
  // Yes/no.
  EXPECT_EQ(mode("  Answer the following question about the image with yes or no. What is shown?"), "basic");
  EXPECT_EQ(mode("Tell me, yes or no: abnormal?"), "basic");
  EXPECT_EQ(mode("Tell me, yes or nonsense"), "intermediate");  // \byes or no\b needs a boundary
  EXPECT_EQ(mode("Is the lung abnormal"), "basic");
  EXPECT_EQ(mode("Island shape of the lesion"), "intermediate");  // "is" + \b
  EXPECT_EQ(mode("does it show a mass"), "basic");
  EXPECT_EQ(mode("doesn't it show a mass"), "intermediate");  // "does" + "n": no boundary
  EXPECT_EQ(mode("Dose of contrast used"), "intermediate");
  EXPECT_EQ(mode("Isé region"), "intermediate");  // é is a word character in Python: no boundary
  // Advanced: 18 tokens, or a marker.
  const std::string t17 = "a b c d e f g h i j k l m n o p q";     // 17 tokens
  EXPECT_EQ(mode("Where " + t17.substr(2)), "intermediate");       // 17 tokens
  EXPECT_EQ(mode("Where " + t17), "advanced");                     // 18 tokens
  EXPECT_EQ(mode("Where\tis\n" + t17.substr(4)), "intermediate");  // split() on any whitespace: 17
  EXPECT_EQ(mode("Why is it dark"), "advanced");
  EXPECT_EQ(mode("Is it dark? Explain why"), "basic");  // the yes/no rule comes first
  EXPECT_EQ(mode("Explain the finding"), "advanced");
  EXPECT_EQ(mode("What is the most likely diagnosis"), "advanced");
  EXPECT_EQ(mode("How many nodules"), "advanced");
  EXPECT_EQ(mode("What organ is shown?"), "intermediate");
  // An explicit mode is taken as given.
  EXPECT_EQ(resolve_mdagent_mode("Is it normal?", "advanced"), "advanced");
}

TEST(MdAgent, IntermediateRolesEvidenceAndFinalAnswer) {
  ScriptedCaller c({{"visual_examiner", "opacity in the left lung"},
                    {"medical_specialist", "pneumonia"},
                    {"skeptical_reviewer", "agree"},
                    {"moderator", "Pneumonia "}});
  const AgentOutcome o = run_mdagent(c, "What is seen?", "intermediate");
  ASSERT_EQ(c.all.size(), 4u);
  EXPECT_EQ(c.stages.size(), 4u);  // each role waits for the previous one
  EXPECT_EQ(c.all[0].role, "visual_examiner");
  EXPECT_EQ(c.all[3].role, "moderator");
  for (const auto& call : c.all) EXPECT_FALSE(call.temperature.has_value());
  EXPECT_EQ(
      c.all[0].prompt,
      "You are acting as the visual examiner in a medical multi-agent team.\n\nUse only the provided image and "
      "question.\n\nIf the image is uncertain or insufficient, say so briefly and still provide the best supported "
      "answer.\n\nTask: List the most relevant visual findings for answering the question. Keep it short.\n\n"
      "Question: What is seen?");
  EXPECT_NE(c.all[1].prompt.find("\n\nPrior team notes:\nopacity in the left lung"), std::string::npos);
  EXPECT_NE(c.all[3].prompt.find("Prior team notes:\n[visual examiner]\nopacity in the left lung\n\n[medical "
                                 "specialist]\npneumonia\n\n[skeptical reviewer]\nagree"),
            std::string::npos);
  EXPECT_EQ(o.answer, "Pneumonia ");  // the last output, as returned
  EXPECT_EQ(o.trace["mode"], "intermediate");
  EXPECT_EQ(o.trace["final_answer"], "Pneumonia ");
  EXPECT_EQ(o.trace["steps"].size(), 4u);
  EXPECT_EQ(o.trace["steps"][2]["agent"], "skeptical_reviewer");
  EXPECT_EQ(o.trace["steps"][2]["output"], "agree");
}

TEST(MdAgent, BasicAdvancedEmptyEvidenceAndModelError) {
  ScriptedCaller basic({});
  const AgentOutcome b = run_mdagent(basic, "Is it normal?", "adaptive");
  EXPECT_EQ(b.mode, "basic");
  ASSERT_EQ(basic.all.size(), 1u);
  EXPECT_EQ(basic.all[0].role, "primary_clinician");
  EXPECT_EQ(b.answer, "<out:primary_clinician#1>");

  // An empty earlier output leaves out the notes (`if evidence:`); the question is stripped with the prompt.
  ScriptedCaller adv(std::map<std::string, std::string>{{"triage_lead", ""}});
  const AgentOutcome a = run_mdagent(adv, "Describe the lesion  ", "adaptive");
  EXPECT_EQ(a.mode, "advanced");
  ASSERT_EQ(adv.all.size(), 5u);
  EXPECT_EQ(adv.all[1].role, "visual_examiner");
  EXPECT_EQ(adv.all[1].prompt.find("Prior team notes"), std::string::npos);
  EXPECT_EQ(adv.all[0].prompt.substr(adv.all[0].prompt.size() - 29), "Question: Describe the lesion");
  EXPECT_NE(adv.all[2].prompt.find("Prior team notes:\n[triage plan]\n\n\n[visual findings]\n<out:visual_examiner#1>"),
            std::string::npos);
  EXPECT_EQ(adv.all[4].role, "chief_moderator");
  EXPECT_EQ(a.answer, "<out:chief_moderator#1>");

  ScriptedCaller err(std::map<std::string, std::string>{{"medical_specialist", "__RAISE__"}});
  const AgentOutcome e = run_mdagent(err, "What organ?", "intermediate");
  EXPECT_NE(e.error.find("medical_specialist"), std::string::npos);
  EXPECT_EQ(err.all.size(), 2u);  // stops at the failing role
}

// ---- UCAgent parser ------------------------------------------------------------------------------

TEST(UcAgentParser, AutoCorrectionAndErrors) {
  auto p = extract_option(reply("yes/no", "Yes, there is."));
  EXPECT_FALSE(p.validation_error);
  EXPECT_EQ(*p.question_type, "yes/no");
  EXPECT_EQ(*p.answer, "yes");
  p = extract_option(reply("Multiple Choice", "(b) pneumonia"));
  EXPECT_EQ(*p.question_type, "multi-choice");
  EXPECT_EQ(*p.answer, "B");  // first single capital letter of the upper-cased answer
  p = extract_option(reply("open", "  left lower lobe  "));
  EXPECT_EQ(*p.answer, "left lower lobe");
  // No question type: detected from the answer.
  p = extract_option("#Reasoning: x\n#Answer: no");
  EXPECT_EQ(*p.question_type, "yes/no");
  EXPECT_EQ(*p.answer, "no");
  p = extract_option("#Answer: C");
  EXPECT_EQ(*p.question_type, "multi-choice");
  p = extract_option("#Question Type: banana\n#Answer: the liver");
  EXPECT_EQ(*p.question_type, "open");  // unknown type -> detected
  EXPECT_TRUE(p.corrected);
  // Errors.
  EXPECT_EQ(*extract_option("").validation_error, "Empty response");
  EXPECT_EQ(*extract_option(reply("yes/no", "maybe")).validation_error, "Cannot auto-correct yes/no answer");
  EXPECT_EQ(*extract_option(reply("multi-choice", "pneumonia")).validation_error,
            "Cannot auto-correct multi-choice answer");
  EXPECT_EQ(*extract_option("#Question Type: open\n#Reasoning: no answer given").validation_error,
            "Missing required fields");
  // The answer on the next line, after the colon's whitespace (\s* crosses newlines).
  p = extract_option("#Question Type:\nyes/no\n#Answer:\n\nNo.");
  EXPECT_EQ(*p.answer, "no");
  // "yes" inside a word is not an answer ("yesterday"), "no" as a word is.
  EXPECT_EQ(*extract_option(reply("yes/no", "yesterday no")).answer, "no");
}

TEST(UcAgentParser, Inquiries) {
  auto q = extract_inquiries("@ To Expert 1 who reviews Agent1: Why yes?\n@ To Expert 2 who reviews Agent2: Why no?");
  ASSERT_FALSE(q.validation_error);
  ASSERT_EQ(q.inquiries.size(), 2u);
  EXPECT_EQ(*q.inquiries[0].expert_id, 1);
  EXPECT_EQ(q.inquiries[0].header, "To Expert 1 who reviews Agent1");
  EXPECT_EQ(q.inquiries[0].question, "Why yes?");
  EXPECT_EQ(*q.inquiries[1].expert_id, 2);
  EXPECT_EQ(q.inquiries[1].question, "Why no?");
  EXPECT_EQ(*extract_inquiries("@ To Expert 1: only one").validation_error, "Less than two valid inquiries found");
  EXPECT_EQ(*extract_inquiries("").validation_error, "Empty response");
  q = extract_inquiries("Inquiries:@ To the first: a?@ To Expert 3: b: c?");
  ASSERT_EQ(q.inquiries.size(), 2u);
  EXPECT_FALSE(q.inquiries[0].expert_id);
  EXPECT_EQ(q.inquiries[1].question, "b: c?");  // the first colon ends the header
}

// ---- UCAgent paths -------------------------------------------------------------------------------

const std::string kQ = "Answer the following question about the image with yes or no. Is there a mass?";

TEST(UcAgent, AgreementVerifiedEndsAtLevel2) {
  ScriptedCaller c({{"level1_expert1", reply("yes/no", "Yes")},
                    {"level1_expert2", reply("yes/no", "yes.")},
                    {"level2", reply("yes/no", "yes")}});
  const AgentOutcome o = run_ucagent(c, kQ, {});
  EXPECT_EQ(o.answer, "yes");
  EXPECT_EQ(o.level, 2);
  EXPECT_TRUE(*o.agreement);
  EXPECT_TRUE(*o.verified);
  EXPECT_FALSE(o.fallback);
  ASSERT_EQ(c.stages.size(), 2u);
  ASSERT_EQ(c.stages[0].size(), 2u);  // both experts at once
  EXPECT_EQ(*c.stages[0][0].temperature, 0.7);
  EXPECT_EQ(*c.stages[1][0].temperature, 0.5);
  EXPECT_EQ(c.stages[0][0].prompt, c.stages[0][1].prompt);
  EXPECT_NE(c.stages[1][0].prompt.find("[Previous Reports] (Level-1 Initial Assessment Reports)\n<Agent1 " +
                                       reply("yes/no", "Yes") + ">\n<Agent2 "),
            std::string::npos);
  EXPECT_EQ(o.trace.size(), 3u);
  EXPECT_EQ(o.trace["level2"], reply("yes/no", "yes"));
}

TEST(UcAgent, VerifierDisagreesGoesToLevel3WithOneCritic) {
  ScriptedCaller c({{"level1_expert1", reply("yes/no", "yes")},
                    {"level1_expert2", reply("yes/no", "yes")},
                    {"level2", reply("yes/no", "no")},
                    {"level3_leader", "@ To Expert 1: sure?\n@ To Expert 1: really?"},
                    {"level3_leader_final", reply("yes/no", "No")}});
  const AgentOutcome o = run_ucagent(c, kQ, {});
  EXPECT_EQ(o.answer, "no");
  EXPECT_EQ(o.level, 3);
  EXPECT_FALSE(*o.verified);
  // critic (0.5), leader (0.1), two rebuttals to the same critic (0.1, together), verdict (0.1).
  ASSERT_EQ(c.stages.size(), 6u);
  EXPECT_EQ(c.stages[2][0].role, "level3_critic_yes");
  EXPECT_NE(c.stages[2][0].prompt.find("\n(Level-2 Extra Expert Check)\n<" + reply("yes/no", "no") + ">"),
            std::string::npos);
  ASSERT_EQ(c.stages[4].size(), 2u);
  EXPECT_EQ(c.stages[4][1].role, "level3_rebuttal_yes");
  EXPECT_EQ(c.stages[4][1].attempt, 2);
  EXPECT_NE(
      c.stages[5][0].prompt.find("(Expert Panel Response)\n(Critic for yes - response)\n<out:level3_rebuttal_yes#1>"
                                 "\n(Critic for yes - response)\n<out:level3_rebuttal_yes#2>"),
      std::string::npos);
  EXPECT_EQ(o.trace["level3_rebuttal_yes"], "<out:level3_rebuttal_yes#2>");  // the last one, as the dict keeps
}

TEST(UcAgent, DisagreementDebateWithCriticPerAnswer) {
  ScriptedCaller c({{"level1_expert1", reply("multi-choice", "A")},
                    {"level1_expert2", reply("multi-choice", "(c)")},
                    {"level3_leader", "@ To Expert 2 who reviews Agent2: q2\n@ To Expert 1 who reviews Agent1: q1"},
                    {"level3_leader_final", reply("multi-choice", "B is best")}});
  const AgentOutcome o = run_ucagent(c, "Which? A. x B. y C. z", {});
  EXPECT_EQ(o.answer, "B");  // the leader may pick an overlooked choice
  EXPECT_FALSE(*o.agreement);
  EXPECT_FALSE(o.verified.has_value());
  ASSERT_EQ(c.stages.size(), 5u);  // experts, critics, leader, rebuttals, verdict
  ASSERT_EQ(c.stages[1].size(), 2u);
  EXPECT_EQ(c.stages[1][0].role, "level3_critic_A");
  EXPECT_EQ(c.stages[1][1].role, "level3_critic_C");
  EXPECT_EQ(*c.stages[1][0].temperature, 0.5);
  // The reference shows the leader the answers, not the critics' reports (enumerating the dict's keys).
  EXPECT_NE(c.stages[2][0].prompt.find("[Critics on Assessments] (LEVEL-3 Expert Panel Critics)\nCritic Expert 1: "
                                       "A\nCritic Expert 2: C. "),
            std::string::npos);
  EXPECT_EQ(*c.stages[2][0].temperature, 0.1);
  ASSERT_EQ(c.stages[3].size(), 2u);
  EXPECT_EQ(c.stages[3][0].role, "level3_rebuttal_C");  // Expert 2 -> the second answer
  EXPECT_NE(c.stages[3][0].prompt.find("do not change your stance:q2."), std::string::npos);
  EXPECT_NE(c.stages[3][0].prompt.find("# Your initial support report:\n            <out:level3_critic_C#1>"),
            std::string::npos);
  for (const char* k : {"level1_expert1", "level1_expert2", "level3_critic_A", "level3_critic_C", "level3_leader",
                        "level3_rebuttal_A", "level3_rebuttal_C", "level3_leader_final"})
    EXPECT_TRUE(o.trace.contains(k)) << k;
}

TEST(UcAgent, MalformedExpertIsRetriedOnce) {
  ScriptedCaller c({{"level1_expert1#1", "I think yes"},
                    {"level1_expert1#2", reply("yes/no", "yes")},
                    {"level1_expert2", reply("yes/no", "yes")},
                    {"level2", reply("yes/no", "yes")}});
  const AgentOutcome o = run_ucagent(c, kQ, {});
  EXPECT_EQ(o.answer, "yes");
  EXPECT_FALSE(o.fallback);
  ASSERT_EQ(c.stages.size(), 3u);
  ASSERT_EQ(c.stages[1].size(), 1u);  // only the malformed expert again
  EXPECT_EQ(c.stages[1][0].role, "level1_expert1");
  EXPECT_EQ(c.stages[1][0].attempt, 2);
  EXPECT_EQ(o.trace["level1_expert1"], reply("yes/no", "yes"));
}

TEST(UcAgent, MalformedTwiceFallsBackToZeroShot) {
  ScriptedCaller c(
      {{"level1_expert1", "no format at all"}, {"level1_expert2", reply("yes/no", "yes")}, {"zero_shot", "  No.  "}});
  const AgentOutcome o = run_ucagent(c, kQ, {});
  EXPECT_TRUE(o.fallback);
  EXPECT_EQ(o.answer, "No.");  // stripped, not parsed
  EXPECT_EQ(o.fallback_reason, "Missing required fields");
  EXPECT_EQ(c.all.back().role, "zero_shot");
  EXPECT_EQ(c.all.back().prompt, kQ);
  EXPECT_FALSE(c.all.back().temperature.has_value());
  EXPECT_EQ(o.trace["error"]["error"], "Missing required fields");
  EXPECT_EQ(o.trace["error"]["response"], "no format at all");
  EXPECT_FALSE(o.trace.contains("level1_expert2"));  // the reference never reached expert 2
  EXPECT_EQ(o.unused_calls, (std::set<std::string>{"level1_expert2#1"}));
}

TEST(UcAgent, NoRetriesIsTheReferenceLoop) {
  ScriptedCaller c({{"level1_expert1", reply("yes/no", "yes")}, {"level1_expert2", reply("yes/no", "perhaps")}});
  const AgentOutcome o = run_ucagent(c, kQ, UcAgentOptions{0});
  EXPECT_TRUE(o.fallback);
  EXPECT_EQ(o.fallback_reason, "Cannot auto-correct yes/no answer");
  EXPECT_EQ(c.all.size(), 3u);  // two experts, then zero-shot
  EXPECT_EQ(o.trace["level1_expert2"], reply("yes/no", "perhaps"));
}

TEST(UcAgent, LeaderFailuresFallBack) {
  const std::map<std::string, std::string> split = {{"level1_expert1", reply("yes/no", "yes")},
                                                    {"level1_expert2", reply("yes/no", "no")},
                                                    {"level3_leader_final", reply("yes/no", "no")}};
  auto with = [&](const std::string& leader) {
    auto s = split;
    s["level3_leader"] = leader;
    ScriptedCaller c(s);
    return std::make_pair(run_ucagent(c, kQ, {}), c.all);
  };
  // One inquiry: a format error, retried, then the fallback.
  auto [o1, calls1] = with("@ To Expert 1: why?");
  EXPECT_TRUE(o1.fallback);
  EXPECT_EQ(o1.trace["error"]["error"], "Less than two valid inquiries found");
  EXPECT_EQ(std::count_if(calls1.begin(), calls1.end(), [](const AgentCall& c) { return c.role == "level3_leader"; }),
            2);
  // No expert number: the reference's TypeError.
  auto [o2, calls2] = with("@ To the first: a?\n@ To Expert 2: b?");
  EXPECT_TRUE(o2.fallback);
  EXPECT_EQ(o2.trace["error"]["system_message"], "unsupported operand type(s) for -: 'NoneType' and 'int'");
  // Past the last answer: IndexError.
  auto [o3, calls3] = with("@ To Expert 1: a?\n@ To Expert 3: b?");
  EXPECT_EQ(o3.trace["error"]["system_message"], "list index out of range");
  // Expert 0 is index -1: the last answer (Python indexing).
  auto [o4, calls4] = with("@ To Expert 0: a?\n@ To Expert 1: b?");
  EXPECT_FALSE(o4.fallback);
  EXPECT_EQ(o4.answer, "no");
  EXPECT_TRUE(o4.trace.contains("level3_rebuttal_no"));
  EXPECT_TRUE(o4.trace.contains("level3_rebuttal_yes"));
}

TEST(UcAgent, ModelErrorsFallBackAndAFailedFallbackFailsTheSample) {
  ScriptedCaller c({{"level1_expert1", reply("yes/no", "yes")}, {"level1_expert2", "__RAISE__"}, {"zero_shot", "yes"}});
  const AgentOutcome o = run_ucagent(c, kQ, {});
  EXPECT_TRUE(o.fallback);
  EXPECT_EQ(o.answer, "yes");
  EXPECT_EQ(o.trace["error"]["system_message"], "backbone failure at level1_expert2#1");
  EXPECT_EQ(c.all.size(), 3u);  // a model error is not retried by the agent (the backend retried it)

  ScriptedCaller d({{"level1_expert1", "__RAISE__"}, {"zero_shot", "__RAISE__"}});
  const AgentOutcome e = run_ucagent(d, kQ, {});
  EXPECT_NE(e.error.find("zero-shot fallback failed"), std::string::npos);
}

// ---- Driver --------------------------------------------------------------------------------------

// A generative model answering from the prompt: experts agree on yes/no questions, disagree otherwise.
class PromptModel : public GenerativeModel {
 public:
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    batches.push_back(batch.size());
    std::vector<GenerationResult> out;
    for (const auto& r : batch) {
      seeds.push_back(r.seed);
      GenerationResult g;
      const bool yn = r.prompt.find("yes or no.") != std::string::npos;
      if (r.prompt.find("[Core Identity] You are a professional") != std::string::npos)
        g.text = reply("yes/no", yn ? "yes" : (r.seed % 2 ? "yes" : "no"));
      else if (r.prompt.find("authoritative senior") != std::string::npos)
        g.text = reply("yes/no", "yes");
      else if (r.prompt.find("Lead Adjudicator") != std::string::npos)
        g.text = "@ To Expert 1: a?\n@ To Expert 2: b?";
      else if (r.prompt.find("[Task 2]") != std::string::npos)
        g.text = reply("yes/no", "no");
      else
        g.text = "ok";
      g.prompt_tokens = 10;
      g.completion_tokens = 2;
      out.push_back(g);
    }
    return out;
  }
  std::vector<size_t> batches;
  std::vector<uint64_t> seeds;
  std::mutex mu_;
};

TEST(AgentDriver, OneGeneratePerStageForTheWholeBatch) {
  PromptModel model;
  std::vector<AgentJob> jobs;
  for (int i = 0; i < 12; ++i) jobs.push_back({"Question " + std::to_string(i) + " yes or no.", {}, uint64_t(i)});
  DriverStats st;
  const auto res = run_agent_batch(
      model, jobs, [](Caller& c, const AgentJob& j) { return run_ucagent(c, j.qs, {}); }, {}, &st);
  ASSERT_EQ(res.size(), 12u);
  for (const auto& r : res) {
    EXPECT_EQ(r.outcome.answer, "yes");
    ASSERT_EQ(r.steps.size(), 3u);
    EXPECT_EQ(r.steps[0].stage, 1);
    EXPECT_EQ(r.steps[2].stage, 2);
    EXPECT_EQ(r.steps[2].role, "level2");
  }
  EXPECT_EQ(st.generate_calls, 2);  // all 24 experts, then all 12 verifiers
  EXPECT_EQ(model.batches, (std::vector<size_t>{24, 12}));

  // Mixed depths: the batch takes as many stages as its deepest sample.
  PromptModel mixed;
  std::vector<AgentJob> mjobs = {{"Is it yes or no.", {}, 1}, {"What organ?", {}, 2}, {"What organ?", {}, 3}};
  DriverStats ms;
  const auto mres = run_agent_batch(
      mixed, mjobs, [](Caller& c, const AgentJob& j) { return run_mdagent(c, j.qs, "adaptive"); }, {}, &ms);
  EXPECT_EQ(mres[0].steps.size(), 1u);
  EXPECT_EQ(mres[1].steps.size(), 4u);
  EXPECT_EQ(ms.generate_calls, 4);
  EXPECT_EQ(mixed.batches, (std::vector<size_t>{3, 2, 2, 2}));

  // One call at a time (the reference's order): one generate per call.
  PromptModel seq;
  DriverStats ss;
  DriverOptions one;
  one.max_requests_per_generate = 1;
  run_agent_batch(
      seq, mjobs, [](Caller& c, const AgentJob& j) { return run_mdagent(c, j.qs, "adaptive"); }, one, &ss);
  EXPECT_EQ(ss.generate_calls, 9);
  EXPECT_EQ(ss.requests, 9);
}

TEST(AgentDriver, SeedsDifferPerExpertAndAttemptAndFollowTheSample) {
  EXPECT_NE(call_seed(5, "level1_expert1", 1), call_seed(5, "level1_expert2", 1));
  EXPECT_NE(call_seed(5, "level1_expert1", 1), call_seed(5, "level1_expert1", 2));
  EXPECT_NE(call_seed(5, "level1_expert1", 1), call_seed(6, "level1_expert1", 1));
  EXPECT_EQ(call_seed(5, "level1_expert1", 1), call_seed(5, "level1_expert1", 1));
  PromptModel a, b;
  const AgentFn uc = [](Caller& c, const AgentJob& j) { return run_ucagent(c, j.qs, {}); };
  const auto ra = run_agent_batch(a, {{"Which one?", {}, 77}}, uc);
  const auto rb = run_agent_batch(b, {{"Other", {}, 1}, {"Which one?", {}, 77}, {"x", {}, 2}}, uc);
  // The same sample seed gives the same draws whatever batch it runs in.
  ASSERT_EQ(ra[0].steps.size(), rb[1].steps.size());
  for (size_t i = 0; i < ra[0].steps.size(); ++i) {
    EXPECT_EQ(ra[0].steps[i].seed, rb[1].steps[i].seed);
    EXPECT_EQ(ra[0].steps[i].output, rb[1].steps[i].output);
  }
  EXPECT_EQ(ra[0].outcome.answer, rb[1].outcome.answer);
}

class ThrowingModel : public GenerativeModel {
 public:
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>&) override {
    throw std::runtime_error("API key rejected");
  }
};

TEST(AgentDriver, ModelExceptionStopsEverySampleAndIsRethrown) {
  ThrowingModel m;
  std::vector<AgentJob> jobs(5, AgentJob{"Is it?", {}, 0});
  EXPECT_THROW(run_agent_batch(m, jobs, [](Caller& c, const AgentJob& j) { return run_ucagent(c, j.qs, {}); }),
               std::runtime_error);
}

}  // namespace
}  // namespace mvb::agents
