// The eval / train / score pipelines behind the CLI subcommands: validation of names and paths, the
// run folder, resume, the usage runner, scoring and every output file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"

namespace mvb {

struct RunOutcome {
  std::string run_dir;
  std::string status;        // completed | interrupted
  nlohmann::json metrics;    // metrics.json content
  int64_t rows_written = 0;  // rows added to predictions.jsonl by this invocation
  int64_t resumed_rows = 0;  // rows kept from an earlier invocation (--resume)
  int64_t error_rows = 0;    // error rows written by this invocation
  double seconds = 0;
  int exit_code() const { return status == "interrupted" ? 130 : 0; }
};

// `argv` is recorded in run.json.
RunOutcome run_eval(const RunConfig& cfg, const std::vector<std::string>& argv);
RunOutcome run_train(const RunConfig& cfg, const std::vector<std::string>& argv);

// Re-scores a finished (or interrupted) eval run folder from its predictions.jsonl and run.json;
// rewrites metrics.json and results.csv. Returns the new metrics.json content. bertscore_model: the
// BERTScore folder ("" = the one run.json recorded, "none" = off); device runs its forwards.
nlohmann::json score_run_dir(const std::string& run_dir, int bootstrap, const std::string& bertscore_model = "",
                             const std::string& device = "auto");

// Human-readable summary of a metrics.json (for stdout).
std::string format_summary(const nlohmann::json& metrics, const std::string& run_dir);

}  // namespace mvb
