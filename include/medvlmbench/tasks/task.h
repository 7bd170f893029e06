// Tasks (vqa, caption, diagnosis) and their evaluators. An evaluator turns predictions.jsonl rows
// into metrics; it never runs a model, so a finished run can be re-scored (`medvlmbench score`).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/registry.h"

namespace mvb {

struct ScoreOptions {
  int bootstrap = 1000;  // resamples for 95% confidence intervals; 0 disables
  int seed = 0;
  std::vector<std::string> class_texts;
  bool multi_label = false;
  // Who produced the predictions, for the reference's results.csv columns:
  // model, model_name, task, dataset, model_type, modality.
  nlohmann::json identity = nlohmann::json::object();
  // BERTScore (vqa bertscore_open, caption bertscore): the BERT folder, "" = none (meter absent with a
  // note); see tasks/bertscore.h. The device runs its forwards.
  std::string bertscore_model;
  std::string device = "auto";
};

struct ScoreResult {
  nlohmann::json metrics = nlohmann::json::object();  // meter name -> value (or null)
  nlohmann::json ci95 = nlohmann::json::object();     // meter name -> [low, high]
  nlohmann::json notes = nlohmann::json::array();     // why a meter is null/absent, quirks applied
  int64_t num_scored = 0;
  int64_t num_errors = 0;
  // The reference's results.csv row (column order kept).
  std::vector<std::pair<std::string, nlohmann::json>> results_csv;
};

class TaskEvaluator {
 public:
  virtual ~TaskEvaluator() = default;
  virtual ScoreResult score(const std::vector<nlohmann::json>& rows, const ScoreOptions& opts) const = 0;
  // predictions.json in the reference's field layout (--save_pred), so its analysis scripts work.
  virtual nlohmann::json reference_predictions(const std::vector<nlohmann::json>& rows) const = 0;
  // Per-sample meter values, one map per row of `rows` (same order): the values whose mean over the
  // scored rows is the meter in metrics.json (diagnosis "accuracy", VQA "accuracy_closed", caption
  // "bleu1" ...). Failed or unscorable rows get an empty map. Meters that are not means over samples
  // (AUROC) and model-based ones (BERTScore) are absent. Used by `medvlmbench compare` (paired
  // bootstrap) and `medvlmbench report` (best and worst samples).
  virtual std::vector<std::map<std::string, double>> sample_values(const std::vector<nlohmann::json>& rows) const {
    return std::vector<std::map<std::string, double>>(rows.size());
  }
};

struct TaskEntry {
  std::string description;
  std::function<std::unique_ptr<TaskEvaluator>()> evaluator;
};

Registry<TaskEntry>& task_registry();

}  // namespace mvb
