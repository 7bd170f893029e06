#include "medvlmbench/metrics/classification.h"

#include <algorithm>
#include <numeric>

#include "medvlmbench/core/error.h"

namespace mvb::metrics {

std::optional<double> binary_auroc(const std::vector<int>& labels, const std::vector<double>& scores,
                                   std::string* reason) {
  MVB_CHECK(labels.size() == scores.size(), "AUROC: ", labels.size(), " labels but ", scores.size(), " scores");
  const size_t n = labels.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U with mid-ranks for ties: equal to the trapezoidal area sklearn computes.
  double pos_rank_sum = 0;
  size_t n_pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      MVB_CHECK(labels[order[k]] == 0 || labels[order[k]] == 1, "AUROC: binary labels must be 0 or 1, got ",
                labels[order[k]]);
      if (labels[order[k]] == 1) {
        pos_rank_sum += mid_rank;
        ++n_pos;
      }
    }
    i = j;
  }
  const size_t n_neg = n - n_pos;
  if (n_pos == 0 || n_neg == 0) {
    if (reason) *reason = "only one class present in the labels; AUROC is undefined";
    return std::nullopt;
  }
  const double u = pos_rank_sum - static_cast<double>(n_pos) * (n_pos + 1) / 2.0;
  return u / (static_cast<double>(n_pos) * static_cast<double>(n_neg));
}

std::optional<double> accuracy(const std::vector<int>& labels, const std::vector<int>& predictions) {
  MVB_CHECK(labels.size() == predictions.size(), "accuracy: size mismatch");
  if (labels.empty()) return std::nullopt;
  size_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += labels[i] == predictions[i];
  return static_cast<double>(correct) / labels.size();
}

}  // namespace mvb::metrics
