// Diagnosis evaluator: reads rows {label: [..], scores: [..], pred} and reports accuracy, AUROC,
// balanced accuracy and macro F1 (scikit-learn's definitions), with bootstrap CIs.
//  - binary (1 or 2 score columns): AUROC of the class-1 probability, as the reference
//    (sklearn roc_auc_score(y, prob[:, 1])), plus the ROC curve points;
//  - multi-class (k > 2; the reference crashes here): one-vs-rest AUROC, macro and weighted, and per
//    class; `auc` is the macro one;
//  - multi-label (dataset flag): per-label AUROC and their macro mean; accuracy is sklearn's subset
//    accuracy, label_accuracy the mean per-label accuracy, f1_macro the mean per-label binary F1.
#include <algorithm>
#include <array>
#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/bootstrap.h"
#include "medvlmbench/metrics/classification.h"
#include "medvlmbench/tasks/task.h"

namespace mvb {
namespace {

using Json = nlohmann::json;
constexpr size_t kMaxRocPoints = 1000;

Json opt(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

// Class names for per-class meters: the dataset's class texts when they fit, else indices.
std::string class_name(const ScoreOptions& opts, int c) {
  if (c >= 0 && static_cast<size_t>(c) < opts.class_texts.size() && !opts.class_texts[static_cast<size_t>(c)].empty())
    return opts.class_texts[static_cast<size_t>(c)];
  return std::to_string(c);
}

// ROC points thinned evenly to at most kMaxRocPoints (ends kept) so metrics.json stays small.
Json roc_json(const metrics::RocCurve& c) {
  const size_t n = c.fpr.size();
  const size_t step = n > kMaxRocPoints ? (n + kMaxRocPoints - 2) / (kMaxRocPoints - 1) : 1;
  Json fpr = Json::array(), tpr = Json::array(), thr = Json::array();
  for (size_t i = 0; i < n; i += step) {
    fpr.push_back(c.fpr[i]);
    tpr.push_back(c.tpr[i]);
    thr.push_back(c.thresholds[i]);
  }
  if ((n - 1) % step != 0) {
    fpr.push_back(c.fpr[n - 1]);
    tpr.push_back(c.tpr[n - 1]);
    thr.push_back(c.thresholds[n - 1]);
  }
  return {{"fpr", fpr}, {"tpr", tpr}, {"thresholds", thr}, {"points_total", n}};
}

struct Table {
  std::vector<int> labels;     // single-label: n; multi-label: n*k
  std::vector<double> scores;  // n*k
  std::vector<int> preds;      // single-label: n; multi-label: n*k
  int k = 0;
  size_t n = 0;
};

class DiagnosisEvaluator : public TaskEvaluator {
 public:
  ScoreResult score(const std::vector<Json>& rows, const ScoreOptions& opts) const override {
    ScoreResult r;
    Table t;
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed" || !row.contains("scores")) {
        ++r.num_errors;
        continue;
      }
      const auto scores = row.at("scores").get<std::vector<double>>();
      const auto label = row.at("label").get<std::vector<int>>();
      MVB_CHECK(!scores.empty() && !label.empty(), "diagnosis row ", row.value("id", "?"),
                " has empty scores or label");
      if (t.k == 0) t.k = static_cast<int>(scores.size());
      MVB_CHECK(static_cast<int>(scores.size()) == t.k, "diagnosis row ", row.value("id", "?"), " has ", scores.size(),
                " scores but earlier rows have ", t.k, "; all rows of a run must have the same classes");
      t.scores.insert(t.scores.end(), scores.begin(), scores.end());
      if (opts.multi_label) {
        MVB_CHECK(label.size() == scores.size(), "diagnosis row ", row.value("id", "?"),
                  ": multi-label rows need one "
                  "0/1 label per score, got ",
                  label.size(), " labels and ", scores.size(), " scores");
        t.labels.insert(t.labels.end(), label.begin(), label.end());
        // The model's own decisions when given, else probability >= 0.5.
        if (row.contains("pred") && row["pred"].is_array() && row["pred"].size() == scores.size()) {
          for (const auto& p : row["pred"]) t.preds.push_back(p.get<int>());
        } else {
          for (double s : scores) t.preds.push_back(s >= 0.5 ? 1 : 0);
        }
      } else {
        t.labels.push_back(label[0]);
        if (t.k == 1)
          t.preds.push_back(scores[0] >= 0.5 ? 1 : 0);  // one sigmoid column
        else
          t.preds.push_back(static_cast<int>(std::max_element(scores.begin(), scores.end()) - scores.begin()));
      }
      ++t.n;
    }
    r.num_scored = static_cast<int64_t>(t.n);
    if (opts.multi_label)
      score_multilabel(t, opts, r);
    else
      score_single(t, opts, r);
    if (t.n == 0) r.notes.push_back("no scored rows: every meter is null");

    const auto& id = opts.identity;
    r.results_csv = {{"task", opts.multi_label ? "multi-label" : (t.k <= 2 ? "binary-class" : "multi-class")},
                     {"dataset", id.value("dataset", "")},
                     {"model_type", id.value("model_type", "")},
                     {"modality", id.value("modality", "")},
                     {"size", r.num_scored},
                     {"accuracy", r.metrics["accuracy"]},
                     {"auc", r.metrics["auc"]}};
    return r;
  }

  // accuracy: 1 when the prediction score() counts (argmax, or >= 0.5 for one sigmoid column; for
  // multi-label every label, from "pred" when given) is right; true_class_score: the score of the true
  // class (single-label), what ranks the best and worst samples of a report.
  std::vector<std::map<std::string, double>> sample_values(const std::vector<Json>& rows) const override {
    std::vector<std::map<std::string, double>> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const Json& row = rows[i];
      if (row.value("status", "") == "failed" || !row.contains("scores") || !row.contains("label")) continue;
      const auto scores = row.at("scores").get<std::vector<double>>();
      const auto label = row.at("label").get<std::vector<int>>();
      if (scores.empty() || label.empty()) continue;
      if (label.size() > 1 && label.size() == scores.size()) {  // multi-label: subset accuracy
        bool all = true;
        const bool has_pred = row.contains("pred") && row["pred"].is_array() && row["pred"].size() == scores.size();
        for (size_t j = 0; j < scores.size(); ++j) {
          const int p = has_pred ? row["pred"][j].get<int>() : (scores[j] >= 0.5 ? 1 : 0);
          all = all && p == label[j];
        }
        out[i]["accuracy"] = all ? 1.0 : 0.0;
        continue;
      }
      const int pred = scores.size() == 1
                           ? (scores[0] >= 0.5 ? 1 : 0)
                           : static_cast<int>(std::max_element(scores.begin(), scores.end()) - scores.begin());
      out[i]["accuracy"] = pred == label[0] ? 1.0 : 0.0;
      if (scores.size() == 1)
        out[i]["true_class_score"] = label[0] == 1 ? scores[0] : 1.0 - scores[0];
      else if (label[0] >= 0 && static_cast<size_t>(label[0]) < scores.size())
        out[i]["true_class_score"] = scores[static_cast<size_t>(label[0])];
    }
    return out;
  }

  // {true_label: [...], pred_label: [...], pred_score: [class-1 probability]}, as the reference.
  Json reference_predictions(const std::vector<Json>& rows) const override {
    Json out = {{"true_label", Json::array()}, {"pred_label", Json::array()}, {"pred_score", Json::array()}};
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed" || !row.contains("scores")) continue;
      const auto& scores = row.at("scores");
      out["true_label"].push_back(row.at("label").size() == 1 ? row.at("label")[0] : row.at("label"));
      out["pred_label"].push_back(row.value("pred", Json(nullptr)));
      out["pred_score"].push_back(scores.size() > 1 ? scores[1] : scores[0]);
    }
    return out;
  }

 private:
  static void put(ScoreResult& r, const std::string& name, const std::optional<double>& v, const std::string& why) {
    r.metrics[name] = opt(v);
    if (!v) r.notes.push_back(name + ": null; " + why);
  }

  static void put_ci(ScoreResult& r, const std::string& name, const std::optional<std::array<double, 2>>& ci) {
    if (ci) r.ci95[name] = {(*ci)[0], (*ci)[1]};
  }

  static void score_single(const Table& t, const ScoreOptions& opts, ScoreResult& r) {
    const std::string empty = "no scored samples";
    put(r, "accuracy", metrics::accuracy(t.labels, t.preds), empty);
    put(r, "balanced_accuracy", metrics::balanced_accuracy(t.labels, t.preds), empty);
    put(r, "f1_macro", metrics::macro_f1(t.labels, t.preds), empty);
    if (t.n == 0) {
      put(r, "auc", std::nullopt, empty);
      return;
    }
    const uint64_t seed = static_cast<uint64_t>(opts.seed);
    const int B = opts.bootstrap;
    // Balanced accuracy and macro F1 of a resample, from per-class counts weighted by the draws
    // (the same formulas as metrics::balanced_accuracy / macro_f1 without materialising it).
    const size_t K = static_cast<size_t>(std::max(t.k, 2));
    auto class_counts = [&](const std::vector<uint32_t>& counts) {
      std::vector<std::array<double, 3>> cc(K, {0, 0, 0});  // tp, true, predicted
      for (size_t i = 0; i < t.n; ++i) {
        const double w = counts[i];
        cc[static_cast<size_t>(t.labels[i])][1] += w;
        cc[static_cast<size_t>(t.preds[i])][2] += w;
        if (t.labels[i] == t.preds[i]) cc[static_cast<size_t>(t.labels[i])][0] += w;
      }
      return cc;
    };
    std::vector<double> correct(t.n);
    for (size_t i = 0; i < t.n; ++i) {
      MVB_CHECK(t.labels[i] >= 0 && static_cast<size_t>(t.labels[i]) < K, "diagnosis: label ", t.labels[i],
                " outside the ", t.k, " score columns; check the dataset's classes");
      correct[i] = t.labels[i] == t.preds[i];
    }
    put_ci(r, "accuracy", metrics::bootstrap_mean_ci(correct, B, seed));
    put_ci(r, "balanced_accuracy", metrics::bootstrap_ci(t.n, B, seed + 1, [&](const auto& c) -> std::optional<double> {
             double sum = 0;
             int classes = 0;
             for (const auto& x : class_counts(c))
               if (x[1] > 0) sum += x[0] / x[1], ++classes;
             return sum / classes;
           }));
    put_ci(r, "f1_macro", metrics::bootstrap_ci(t.n, B, seed + 2, [&](const auto& c) -> std::optional<double> {
             double sum = 0;
             int classes = 0;
             for (const auto& x : class_counts(c))
               if (x[1] > 0 || x[2] > 0) sum += 2 * x[0] / (x[1] + x[2]), ++classes;
             return sum / classes;
           }));

    if (t.k <= 2) {
      std::vector<double> pos(t.n);
      for (size_t i = 0; i < t.n; ++i) pos[i] = t.k > 1 ? t.scores[i * 2 + 1] : t.scores[i];
      for (int l : t.labels)
        MVB_CHECK(l == 0 || l == 1, "diagnosis: a binary task (", t.k, " score columns) has label ", l,
                  "; check the dataset's classes");
      std::string why;
      const metrics::PresortedAuroc auc(t.labels, pos);
      put(r, "auc", auc.auroc(nullptr, &why), why);
      put_ci(r, "auc", metrics::bootstrap_ci(t.n, B, seed + 3, [&](const auto& c) { return auc.auroc(&c); }));
      if (auto roc = metrics::roc_curve(t.labels, pos)) r.metrics["roc_curve"] = roc_json(*roc);
      return;
    }
    for (int l : t.labels) MVB_CHECK(l >= 0 && l < t.k, "diagnosis: label ", l, " outside the ", t.k, " score columns");
    const auto ovr = metrics::ovr_auroc(t.labels, t.scores, t.k);
    const std::string why = ovr.reason.empty() ? "no class has both positives and negatives" : ovr.reason;
    put(r, "auc", ovr.macro, why);
    put(r, "auc_macro_ovr", ovr.macro, why);
    put(r, "auc_weighted_ovr", ovr.weighted, why);
    if (ovr.macro && !ovr.reason.empty()) r.notes.push_back("auc: " + ovr.reason);
    for (int c = 0; c < t.k; ++c)
      r.metrics["auc_class/" + class_name(opts, c)] = opt(ovr.per_class[static_cast<size_t>(c)]);
    r.notes.push_back("auc: one-vs-rest macro AUROC over " + std::to_string(t.k) +
                      " classes (the reference's binary-only AUROC raises on multi-class data)");
    // Bootstrap of the macro OvR AUROC: one presorted column per class, the same resample for all.
    std::vector<metrics::PresortedAuroc> cols;
    for (int c = 0; c < t.k; ++c) {
      std::vector<int> y(t.n);
      std::vector<double> s(t.n);
      for (size_t i = 0; i < t.n; ++i) {
        y[i] = t.labels[i] == c;
        s[i] = t.scores[i * static_cast<size_t>(t.k) + static_cast<size_t>(c)];
      }
      cols.emplace_back(std::move(y), s);
    }
    put_ci(r, "auc", metrics::bootstrap_ci(t.n, B, seed + 3, [&](const auto& counts) -> std::optional<double> {
             double sum = 0;
             int defined = 0;
             for (const auto& col : cols)
               if (auto a = col.auroc(&counts)) sum += *a, ++defined;
             if (defined == 0) return std::nullopt;
             return sum / defined;
           }));
    r.ci95["auc_macro_ovr"] = r.ci95.contains("auc") ? r.ci95["auc"] : Json(nullptr);
    if (r.ci95["auc_macro_ovr"].is_null()) r.ci95.erase("auc_macro_ovr");
  }

  static void score_multilabel(const Table& t, const ScoreOptions& opts, ScoreResult& r) {
    const std::string empty = "no scored samples";
    if (t.n == 0) {
      for (const char* m : {"accuracy", "label_accuracy", "f1_macro", "auc"}) put(r, m, std::nullopt, empty);
      return;
    }
    const size_t k = static_cast<size_t>(t.k);
    std::vector<double> subset_correct(t.n), label_correct(t.n);
    for (size_t i = 0; i < t.n; ++i) {
      size_t ok = 0;
      for (size_t j = 0; j < k; ++j) ok += t.labels[i * k + j] == t.preds[i * k + j];
      subset_correct[i] = ok == k;
      label_correct[i] = static_cast<double>(ok) / static_cast<double>(k);
    }
    double acc = 0, lacc = 0;
    for (size_t i = 0; i < t.n; ++i) acc += subset_correct[i], lacc += label_correct[i];
    r.metrics["accuracy"] = acc / static_cast<double>(t.n);
    r.metrics["label_accuracy"] = lacc / static_cast<double>(t.n);
    const uint64_t seed = static_cast<uint64_t>(opts.seed);
    put_ci(r, "accuracy", metrics::bootstrap_mean_ci(subset_correct, opts.bootstrap, seed));
    put_ci(r, "label_accuracy", metrics::bootstrap_mean_ci(label_correct, opts.bootstrap, seed + 1));
    // Per-label binary F1 (sklearn multilabel macro F1, zero_division=0).
    double f1_sum = 0;
    for (size_t j = 0; j < k; ++j) {
      double tp = 0, fp = 0, fn = 0;
      for (size_t i = 0; i < t.n; ++i) {
        const int y = t.labels[i * k + j], p = t.preds[i * k + j];
        tp += y && p, fp += !y && p, fn += y && !p;
      }
      f1_sum += (2 * tp + fp + fn) > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
    }
    r.metrics["f1_macro"] = f1_sum / static_cast<double>(k);
    const auto ml = metrics::multilabel_auroc(t.labels, t.scores, t.k);
    const std::string why = ml.reason.empty() ? "no label has both positives and negatives" : ml.reason;
    put(r, "auc", ml.macro, why);
    put(r, "auc_macro", ml.macro, why);
    if (ml.macro && !ml.reason.empty()) r.notes.push_back("auc: " + ml.reason);
    for (size_t j = 0; j < k; ++j)
      r.metrics["auc_label/" + class_name(opts, static_cast<int>(j))] = opt(ml.per_class[j]);
    std::vector<metrics::PresortedAuroc> cols;
    for (size_t j = 0; j < k; ++j) {
      std::vector<int> y(t.n);
      std::vector<double> s(t.n);
      for (size_t i = 0; i < t.n; ++i) y[i] = t.labels[i * k + j], s[i] = t.scores[i * k + j];
      cols.emplace_back(std::move(y), s);
    }
    put_ci(r, "auc",
           metrics::bootstrap_ci(t.n, opts.bootstrap, seed + 3, [&](const auto& counts) -> std::optional<double> {
             double sum = 0;
             int defined = 0;
             for (const auto& col : cols)
               if (auto a = col.auroc(&counts)) sum += *a, ++defined;
             if (defined == 0) return std::nullopt;
             return sum / defined;
           }));
  }
};

}  // namespace

MVB_REGISTER(task_registry(), "diagnosis", TaskEntry{"Image classification scored by accuracy and AUROC", [] {
                                                       return std::make_unique<DiagnosisEvaluator>();
                                                     }});

}  // namespace mvb
