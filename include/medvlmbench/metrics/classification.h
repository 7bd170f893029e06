// Classification metrics for the diagnosis task, each defined as scikit-learn 1.2 defines it
// (checked against it in tests/metrics/classification_parity_test.cpp). Undefined values (one class
// present, no samples) come back as nullopt with a reason, never NaN.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mvb::metrics {

// Area under the ROC curve for binary labels (0/1) and scores; identical to scikit-learn's
// roc_auc_score including ties (a tied positive/negative pair counts one half). Returns nullopt
// with `reason` set when only one class is present (sklearn raises there) or a score is NaN.
std::optional<double> binary_auroc(const std::vector<int>& labels, const std::vector<double>& scores,
                                   std::string* reason = nullptr);

// The same with a non-negative integer weight per sample (a bootstrap resample as counts).
std::optional<double> weighted_binary_auroc(const std::vector<int>& labels, const std::vector<double>& scores,
                                            const std::vector<uint32_t>& weights, std::string* reason = nullptr);

// Binary AUROC prepared once (scores sorted) and then evaluated for many weightings: the bootstrap
// draws 1000 resamples of the same data, and sorting each again would dominate the cost.
class PresortedAuroc {
 public:
  PresortedAuroc(std::vector<int> labels, const std::vector<double>& scores);
  // weights: one count per sample (nullptr: all ones).
  std::optional<double> auroc(const std::vector<uint32_t>* weights, std::string* reason = nullptr) const;
  bool has_nan() const { return has_nan_; }

 private:
  std::vector<int> labels_;      // in ascending-score order
  std::vector<uint32_t> order_;  // sample index at each sorted position
  std::vector<uint32_t> group_;  // tie-group id at each sorted position
  bool has_nan_ = false;
};

// sklearn.metrics.roc_curve(labels, scores) with drop_intermediate=True: thresholds decreasing,
// thresholds[0] = max score + 1 (sklearn 1.2), fpr/tpr starting at 0.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
std::optional<RocCurve> roc_curve(const std::vector<int>& labels, const std::vector<double>& scores,
                                  std::string* reason = nullptr);

// One-vs-rest AUROC for k classes: scores is n*k row-major, labels in [0, k). Per class the binary
// AUROC of (label == c, scores[:, c]); macro = mean over classes, weighted = prevalence-weighted
// mean, both over the classes whose AUROC is defined (sklearn raises when a class is absent; we
// skip it and list it in `reason`).
struct MulticlassAuroc {
  std::vector<std::optional<double>> per_class;
  std::optional<double> macro, weighted;
  std::string reason;  // non-empty when a class was skipped or everything is undefined
};
MulticlassAuroc ovr_auroc(const std::vector<int>& labels, const std::vector<double>& scores, int num_classes);

// Multi-label AUROC: labels and scores n*L row-major (labels 0/1). Per label binary AUROC; macro =
// mean over the labels whose AUROC is defined (sklearn raises when a label has one class).
MulticlassAuroc multilabel_auroc(const std::vector<int>& labels, const std::vector<double>& scores, int num_labels);

// Fraction of predictions equal to labels; nullopt when empty.
std::optional<double> accuracy(const std::vector<int>& labels, const std::vector<int>& predictions);

// sklearn balanced_accuracy_score: mean recall over the classes present in `labels`.
std::optional<double> balanced_accuracy(const std::vector<int>& labels, const std::vector<int>& predictions);

// sklearn f1_score(average="macro"): mean over the classes present in labels OR predictions of
// 2tp / (2tp + fp + fn); a class with no tp, fp, fn cannot occur (zero_division never applies).
std::optional<double> macro_f1(const std::vector<int>& labels, const std::vector<int>& predictions);

// Index of the largest score in each row of an n*k row-major matrix (first one on ties, as
// numpy.argmax).
std::vector<int> argmax_rows(const std::vector<double>& scores, int k);

}  // namespace mvb::metrics
