// Output folder layout, identical to the reference so existing scripts find results:
//   eval:  {exp_path}/{task}/{dataset}/{model}/eval_seed{seed}/{basename(model_path)}[/{usage}]
//          [/shard-{i}-of-{n}]  (a shard of n > 1; `medvlmbench merge` writes the folder above)
//   train: {output_dir}/{task}/{dataset}/{model}/train_{peft}_{tune_modules}_seed{seed}[_llava ...]  (generative;
//          peft "None" when not given, as Python formats it; suffixes as run_train.py)
//          {output_dir}/{task}/{dataset}/{model}/train_{usage}_seed{seed}                 (diagnosis)
#pragma once

#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"

namespace mvb {

std::string eval_run_dir(const RunConfig& cfg);
std::string train_run_dir(const RunConfig& cfg);

// File names inside a run directory.
inline constexpr const char* kPredictionsFile = "predictions.jsonl";
inline constexpr const char* kMetricsFile = "metrics.json";
inline constexpr const char* kManifestFile = "run.json";
inline constexpr const char* kResultsCsvFile = "results.csv";
inline constexpr const char* kReferencePredictionsFile = "predictions.json";

// A fresh eval run in a folder that holds an earlier run's outputs moves them aside, each to
// "<name>.previous" (replacing the older set), when the new run writes its first row: until then a
// refused or failed rerun leaves them untouched, and after it no metrics.json/results.csv of another run
// sits beside new predictions. Derived files move first, run.json last, so a kill in between never
// leaves metrics beside predictions they were not computed from. Returns the names moved.
inline constexpr const char* kPreviousSuffix = ".previous";
std::vector<std::string> set_aside_previous_outputs(const std::string& run_dir);

namespace io {
// Removes a file if present (no error when absent); throws naming the path on any other failure.
void remove_file(const std::string& path);
// rename(2), throwing naming both paths on failure.
void rename_file(const std::string& from, const std::string& to);
// Deletes the "<name>.tmp.<pid>" files that write_file_atomic left in `dir` when its process was
// killed between write and rename, but only those whose pid no longer runs (a live writer's temp file
// is never touched; a reused pid only delays the clean-up). Returns how many were removed.
int remove_stale_temp_files(const std::string& dir);
}  // namespace io

}  // namespace mvb
