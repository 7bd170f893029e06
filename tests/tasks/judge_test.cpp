// The LLM judge's rubric, reply parsing and row handling, with a scripted judge model registered
// for this test (the HTTP path is covered by tests/backends/eval_e2e_test.cpp).
#include "medvlmbench/tasks/judge.h"

#include <gtest/gtest.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/models/model.h"
#include "support/test_support.h"

namespace mvb {
namespace {

struct Script {
  std::vector<std::string> prompts;
  bool fail = false;
};
Script& script() {
  static Script s;
  return s;
}

class ScriptedJudge : public GenerativeModel {
 public:
  explicit ScriptedJudge(nlohmann::json options) : options_(std::move(options)) {}
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& reqs) override {
    std::vector<GenerationResult> out;
    for (const auto& r : reqs) {
      script().prompts.push_back(r.prompt);
      GenerationResult g;
      if (script().fail)
        g.error = "failed after 7 attempts; last error: network error";
      else if (r.prompt.find("Which option letter") != std::string::npos)
        g.text = r.prompt.find("second") != std::string::npos ? "NONE" : "The answer chooses C.";
      else if (r.prompt.find("Candidate answer: garbled") != std::string::npos)
        g.text = "I cannot grade this.";
      else
        g.text = "Rationale: Close enough.\nScore: 75";
      out.push_back(g);
    }
    return out;
  }
  nlohmann::json describe() const override { return {{"model_id", "scripted"}, {"options", options_}}; }

 private:
  nlohmann::json options_;
};

MVB_REGISTER(model_registry(), "judge-test-scripted",
             ModelEntry{"generative", {"vqa"}, "test judge", false, [](const ModelSpec& spec) {
                          return std::make_unique<ScriptedJudge>(spec.options);
                        }});

TEST(Judge, RubricIsFixed) {
  // Changing this text changes every score: bump kJudgeRubricVersion along with this test.
  EXPECT_STREQ(kJudgeRubricVersion, "mvb-judge-v1");
  EXPECT_EQ(judge_prompt("What organ?", "Lung", "The lungs"),
            "You are grading an answer to a medical visual question. You cannot see the image: judge the candidate "
            "answer only against the reference answer, which is correct.\n\n"
            "Question: What organ?\nReference answer: Lung\nCandidate answer: The lungs\n\n"
            "Score the candidate from 0 to 100 by how well it agrees with the reference in medical meaning:\n"
            "- 100: same meaning (synonyms, abbreviations, other wording or extra non-contradicting detail are fine)\n"
            "- 70-99: correct, but less specific than the reference or with minor imprecision\n"
            "- 30-69: partly correct (e.g. right organ but wrong finding, or only part of a list)\n"
            "- 1-29: mostly wrong but related to the reference\n"
            "- 0: wrong, contradicts the reference, or no answer\n\n"
            "Reply in exactly this format:\nRationale: <one or two sentences>\nScore: <integer from 0 to 100>");
}

TEST(Judge, ParsesScoresAndRationales) {
  auto p = parse_judgement("Rationale: Both name the lung.\nScore: 95");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.score, 95);
  EXPECT_EQ(p.rationale, "Both name the lung.");
  p = parse_judgement("**Rationale:** partial.\n**Score:** 40\n");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.score, 40);
  EXPECT_EQ(parse_judgement("score = 250").score, 100);                              // clamped
  EXPECT_EQ(parse_judgement("First score: 10, on reflection Score: 30").score, 30);  // the last one
  EXPECT_FALSE(parse_judgement("I cannot grade this.").ok);
}

std::vector<nlohmann::json> sample_rows() {
  return {
      {{"id", "a"},
       {"question", "What organ?"},
       {"answer", "Lung"},
       {"prediction", "The lungs"},
       {"question_type", "open"}},
      {{"id", "b"}, {"question", "Normal?"}, {"answer", "no"}, {"prediction", "No"}, {"question_type", "closed"}},
      {{"id", "c"}, {"question", "What?"}, {"answer", "x"}, {"prediction", "garbled"}, {"question_type", "open"}},
      {{"id", "d"}, {"status", "failed"}, {"error", "boom"}, {"question_type", "open"}},
      {{"id", "e"},
       {"question", "Pick one"},
       {"answer", "C"},
       {"prediction", "I think the third is right"},
       {"question_type", "multi-choice"},
       {"choices",
        {{{"letter", "A"}, {"text", "x"}}, {{"letter", "B"}, {"text", "y"}}, {{"letter", "C"}, {"text", "z"}}}}},
      {{"id", "f"},
       {"question", "Pick one"},
       {"answer", "A"},
       {"prediction", "Answer: (A)"},
       {"question_type", "multi-choice"}},
      {{"id", "g"},
       {"question", "Pick second"},
       {"answer", "B"},
       {"prediction", "unclear"},
       {"question_type", "multi-choice"}},
  };
}

std::string write_rows(const test::TempDir& dir) {
  std::string text;
  for (const auto& r : sample_rows()) text += r.dump() + "\n";
  test::write_text(dir / "predictions.jsonl", text);
  return dir / "predictions.jsonl";
}

TEST(Judge, OpenModeJudgesOpenAnswersOnlyAndSkipsJudgedRows) {
  test::TempDir dir;
  const std::string path = write_rows(dir);
  script() = {};
  JudgeConfig cfg;
  cfg.model = "judge-test-scripted";
  JudgeSummary s = judge_predictions(path, cfg);
  EXPECT_EQ(s.candidates, 2);
  EXPECT_EQ(s.judged, 2);
  EXPECT_EQ(s.unparsed, 1);
  EXPECT_DOUBLE_EQ(s.mean_score, 75.0);
  ASSERT_EQ(script().prompts.size(), 2u);
  EXPECT_NE(script().prompts[0].find("Candidate answer: The lungs"), std::string::npos);
  auto rows = io::read_jsonl(path).rows;
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0]["judge"], (nlohmann::json{{"score", 75},
                                              {"rationale", "Close enough."},
                                              {"model", "judge-test-scripted:scripted"},
                                              {"rubric_version", "mvb-judge-v1"}}));
  EXPECT_FALSE(rows[1].contains("judge"));
  EXPECT_TRUE(rows[2]["judge"]["score"].is_null());
  EXPECT_EQ(rows[2]["judge"]["error"], "no 'Score: N' line in the judge's reply");
  EXPECT_FALSE(rows[3].contains("judge"));

  // Second pass: the good judgement is kept, the unreadable one is asked again.
  script().prompts.clear();
  s = judge_predictions(path, cfg);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(script().prompts.size(), 1u);
  // scope "all" also judges closed questions.
  cfg.scope = "all";
  script().prompts.clear();
  judge_predictions(path, cfg);
  EXPECT_EQ(io::read_jsonl(path).rows[1]["judge"]["score"], 75);
}

TEST(Judge, McModeAsksOnlyWhereTheRegexFindsNoLetter) {
  test::TempDir dir;
  const std::string path = write_rows(dir);
  script() = {};
  JudgeConfig cfg;
  cfg.model = "judge-test-scripted";
  cfg.mode = "mc";
  const JudgeSummary s = judge_predictions(path, cfg);
  EXPECT_EQ(s.candidates, 2) << "row f's 'Answer: (A)' is read by the reference's regex";
  const auto rows = io::read_jsonl(path).rows;
  EXPECT_EQ(rows[4]["judge_mc"]["letter"], "C");
  EXPECT_EQ(rows[4]["judge_mc"]["correct"], true);
  EXPECT_EQ(rows[4]["judge_mc"]["prompt_version"], "mvb-mc-extract-v1");
  EXPECT_FALSE(rows[5].contains("judge_mc"));
  EXPECT_TRUE(rows[6]["judge_mc"]["letter"].is_null());
  EXPECT_EQ(rows[6]["judge_mc"]["correct"], false);
  EXPECT_NE(script().prompts[0].find("(C) z"), std::string::npos) << script().prompts[0];
}

TEST(Judge, UnavailableJudgeFailsLoudly) {
  test::TempDir dir;
  const std::string path = write_rows(dir);
  script() = {};
  script().fail = true;
  JudgeConfig cfg;
  cfg.model = "judge-test-scripted";
  try {
    judge_predictions(path, cfg);
    FAIL() << "a judge that cannot answer must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("failed on 2 of 2 rows"), std::string::npos) << e.what();
  }
  for (const auto& r : io::read_jsonl(path).rows) EXPECT_FALSE(r.contains("judge")) << "no fallback score";
  script().fail = false;
  cfg.model = "no-such-judge";
  EXPECT_THROW(judge_predictions(path, cfg), UsageError);
}

TEST(Judge, JudgeEndpointIsSeparateFromTheEvaluatedModel) {
  RunConfig rc;
  rc.judge = "judge-test-scripted";
  rc.api_base = "http://evaluated-model:8000/v1";
  rc.judge_api_base = "http://judge:8000/v1";
  const JudgeConfig jc = judge_config_from(rc);
  EXPECT_EQ(jc.options["api_base"], "http://judge:8000/v1") << "the evaluated model's endpoint must not leak in";
  EXPECT_FALSE(jc.options.contains("api_model"));
}

}  // namespace
}  // namespace mvb
