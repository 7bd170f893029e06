// Diagnosis evaluator: reads rows {label: [..], scores: [..], pred} and reports accuracy and AUROC.
// Binary AUROC uses the class-1 probability, as the reference does (sklearn roc_auc_score).
#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/classification.h"
#include "medvlmbench/tasks/task.h"

namespace mvb {
namespace {

class DiagnosisEvaluator : public TaskEvaluator {
 public:
  ScoreResult score(const std::vector<nlohmann::json>& rows, const ScoreOptions& opts) const override {
    ScoreResult r;
    std::vector<int> labels, preds;
    std::vector<double> pos_scores;
    size_t num_classes = 0;
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed" || !row.contains("scores")) {
        ++r.num_errors;
        continue;
      }
      const auto scores = row.at("scores").get<std::vector<double>>();
      const auto label = row.at("label").get<std::vector<int>>();
      MVB_CHECK(!scores.empty() && !label.empty(), "diagnosis row ", row.value("id", "?"),
                " has empty scores or label");
      num_classes = std::max(num_classes, scores.size());
      if (opts.multi_label) continue;  // multi-label metrics: see the metrics issue
      labels.push_back(label[0]);
      preds.push_back(static_cast<int>(std::max_element(scores.begin(), scores.end()) - scores.begin()));
      pos_scores.push_back(scores.size() > 1 ? scores[1] : scores[0]);
      ++r.num_scored;
    }
    auto put = [&](const std::string& name, const std::optional<double>& v, const std::string& why) {
      r.metrics[name] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
      if (!v) r.notes.push_back(name + ": " + why);
    };
    put("accuracy", metrics::accuracy(labels, preds), "no scored samples");
    if (num_classes <= 2) {
      std::string why = "no scored samples";
      put("auc", labels.empty() ? std::nullopt : metrics::binary_auroc(labels, pos_scores, &why), why);
    } else {
      r.metrics["auc"] = nullptr;
      r.notes.push_back("auc: multi-class AUROC is not computed yet (the reference crashes here)");
    }
    const auto& id = opts.identity;
    r.results_csv = {{"task", num_classes <= 2 ? "binary-class" : "multi-class"},
                     {"dataset", id.value("dataset", "")},
                     {"model_type", id.value("model_type", "")},
                     {"modality", id.value("modality", "")},
                     {"size", r.num_scored},
                     {"accuracy", r.metrics["accuracy"]},
                     {"auc", r.metrics["auc"]}};
    return r;
  }

  // {true_label: [...], pred_label: [...], pred_score: [class-1 probability]}, as the reference.
  nlohmann::json reference_predictions(const std::vector<nlohmann::json>& rows) const override {
    nlohmann::json out = {{"true_label", nlohmann::json::array()},
                          {"pred_label", nlohmann::json::array()},
                          {"pred_score", nlohmann::json::array()}};
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed" || !row.contains("scores")) continue;
      const auto& scores = row.at("scores");
      out["true_label"].push_back(row.at("label").size() == 1 ? row.at("label")[0] : row.at("label"));
      out["pred_label"].push_back(row.at("pred"));
      out["pred_score"].push_back(scores.size() > 1 ? scores[1] : scores[0]);
    }
    return out;
  }
};

}  // namespace

MVB_REGISTER(task_registry(), "diagnosis", TaskEntry{"Image classification scored by accuracy and AUROC", [] {
                                                       return std::make_unique<DiagnosisEvaluator>();
                                                     }});

}  // namespace mvb
