// Output folder layout, identical to the reference so existing scripts find results:
//   eval:  {exp_path}/{task}/{dataset}/{model}/eval_seed{seed}/{basename(model_path)}[/{usage}]
//          [/shard-{i}-of-{n}]  (a shard of n > 1; `medvlmbench merge` writes the folder above)
//   train: {output_dir}/{task}/{dataset}/{model}/train_{peft}_{tune_modules}_seed{seed}  (generative)
//          {output_dir}/{task}/{dataset}/{model}/train_{usage}_seed{seed}                 (diagnosis)
#pragma once

#include <string>

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

}  // namespace mvb
