// LLM judge for finished VQA runs (`medvlmbench judge <run dir>`, `eval --judge MODEL`).
//
// open mode: each open question's prediction is scored 0-100 against the reference answer by a
// judge model with a fixed, versioned rubric prompt (kJudgeRubricVersion); the reply's score and
// rationale go into the row as "judge": {"score", "rationale", "model", "rubric_version"} (rows.h),
// which the vqa evaluator turns into gpt_score_open / gpt_score_overall. The reference's paper
// scores came from an offline DeepSeek reviewer whose prompt is not published (REFERENCE.md §3.6),
// so these scores are comparable across our runs, not to the paper's numbers.
//
// mc mode: for multiple-choice rows whose answer letter the reference's regex cannot extract
// (MedXpertQA, OmniMedVQA), the judge names the intended letter, as the reference's
// score_multichoice.py does with Gemini; saved as "judge_mc": {"letter", "correct", "raw", "model",
// "prompt_version"}.
//
// Any backend works (API or a local OpenAI-compatible server); replies are cached like all API
// responses. If the judge cannot be reached the call throws after saving what was judged: there is
// never a silent fallback to string matching.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"

namespace mvb {

inline constexpr const char* kJudgeRubricVersion = "mvb-judge-v1";
inline constexpr const char* kMcExtractVersion = "mvb-mc-extract-v1";

struct JudgeConfig {
  std::string model;  // "NAME" or "NAME:MODEL_ID", NAME a generative model (o3, openai, gemini, openai-compatible...)
  nlohmann::json options = nlohmann::json::object();  // ModelSpec.options (api_base, concurrency, cache ...)
  std::string cache_dir;
  std::string mode = "open";   // open | mc
  std::string scope = "open";  // open mode: "open" questions only, or "all" answered rows
  bool force = false;          // re-judge rows already judged with the current rubric
  bool mc_all = false;         // mc mode: ask the judge even where the regex finds a letter
};

// The judge settings of an eval run (--judge, --judge_api_base, --judge_api_model + api flags).
JudgeConfig judge_config_from(const RunConfig& cfg);

// The rubric prompt for one row (exposed for tests and docs).
std::string judge_prompt(const std::string& question, const std::string& reference, const std::string& prediction);
std::string mc_extract_prompt(const std::string& question, const nlohmann::json& choices,
                              const std::string& prediction);

struct ParsedJudgement {
  bool ok = false;
  int score = 0;
  std::string rationale;
};
// Reads "Score: N" (the last one; N clamped to 0..100) and the "Rationale:" text from a reply.
ParsedJudgement parse_judgement(const std::string& reply);

struct JudgeSummary {
  int64_t candidates = 0;  // rows the mode applies to
  int64_t judged = 0;      // new judgements written
  int64_t skipped = 0;     // already judged with this rubric
  int64_t unparsed = 0;    // replies without a readable score/letter (saved with "error")
  double mean_score = 0;   // open mode, over rows with a score
  nlohmann::json model;    // the judge model's describe() (api usage, cost)
  nlohmann::json to_json() const;
};

// Judges the rows of a predictions.jsonl in place (rewritten atomically).
JudgeSummary judge_predictions(const std::string& predictions_path, const JudgeConfig& cfg);

}  // namespace mvb
