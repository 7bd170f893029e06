// Classification metrics for the diagnosis task.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mvb::metrics {

// Area under the ROC curve for binary labels (0/1) and scores; identical to scikit-learn's
// roc_auc_score including ties (a tied positive/negative pair counts one half). Returns nullopt
// with `reason` set when only one class is present (sklearn raises there).
std::optional<double> binary_auroc(const std::vector<int>& labels, const std::vector<double>& scores,
                                   std::string* reason = nullptr);

// Fraction of predictions equal to labels; nullopt when empty.
std::optional<double> accuracy(const std::vector<int>& labels, const std::vector<int>& predictions);

}  // namespace mvb::metrics
