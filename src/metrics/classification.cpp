#include "medvlmbench/metrics/classification.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <numeric>
#include <thread>

#include "medvlmbench/core/error.h"

namespace mvb::metrics {
namespace {

// A key whose unsigned order is the numeric order of the double (-0.0 folded onto +0.0 so that
// they tie, as they compare equal).
inline uint64_t order_key(double d) {
  if (d == 0.0) d = 0.0;
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return (u & 0x8000000000000000ULL) ? ~u : (u | 0x8000000000000000ULL);
}

// Sample indices sorted by ascending score. LSD radix sort on the 64-bit keys (4 passes of 16
// bits) for large inputs: linear time, which is what makes million-row AUROC cheap.
std::vector<uint32_t> ascending_order(const std::vector<double>& scores, std::vector<uint64_t>& keys) {
  const size_t n = scores.size();
  keys.resize(n);
  for (size_t i = 0; i < n; ++i) keys[i] = order_key(scores[i]);
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  if (n < 4096) {
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
    return idx;
  }
  std::vector<uint32_t> tmp(n);
  std::vector<uint64_t> k_in(keys), k_tmp(n);
  std::vector<size_t> count(1 << 16);
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = pass * 16;
    std::fill(count.begin(), count.end(), 0);
    for (size_t i = 0; i < n; ++i) ++count[(k_in[i] >> shift) & 0xFFFF];
    // Skip a pass in which every key has the same digit (common for the high bits of probabilities).
    if (count[(k_in[0] >> shift) & 0xFFFF] == n) continue;
    size_t sum = 0;
    for (auto& c : count) {
      const size_t t = c;
      c = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t d = (k_in[i] >> shift) & 0xFFFF;
      const size_t pos = count[d]++;
      tmp[pos] = idx[i];
      k_tmp[pos] = k_in[i];
    }
    idx.swap(tmp);
    k_in.swap(k_tmp);
  }
  return idx;
}

// In-place ascending sort of plain keys: LSD radix (16-bit digits, uniform digits skipped) for
// large arrays, std::sort otherwise.
void sort_keys(std::vector<uint64_t>& keys) {
  const size_t n = keys.size();
  if (n < 4096) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  std::vector<uint64_t> tmp(n);
  std::vector<size_t> count(1 << 16);
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = pass * 16;
    std::fill(count.begin(), count.end(), 0);
    for (uint64_t k : keys) ++count[(k >> shift) & 0xFFFF];
    if (count[(keys[0] >> shift) & 0xFFFF] == n) continue;
    size_t sum = 0;
    for (auto& c : count) {
      const size_t t = c;
      c = sum;
      sum += t;
    }
    for (uint64_t k : keys) tmp[count[(k >> shift) & 0xFFFF]++] = k;
    keys.swap(tmp);
  }
}

// AUROC from the order keys of the positives and of the negatives: each positive beats the
// negatives below it and half of those tied with it. Sorting two plain key arrays and merging them
// moves half the memory of sorting (key, index) pairs.
std::optional<double> auroc_from_split_keys(std::vector<uint64_t>& pos, std::vector<uint64_t>& neg,
                                            std::string* reason) {
  if (pos.empty() || neg.empty()) {
    if (reason) *reason = "only one class present in the labels; AUROC is undefined";
    return std::nullopt;
  }
  sort_keys(pos);
  sort_keys(neg);
  double area = 0;
  size_t below = 0;
  for (size_t i = 0; i < pos.size();) {
    const uint64_t k = pos[i];
    size_t j = i;
    while (j < pos.size() && pos[j] == k) ++j;
    while (below < neg.size() && neg[below] < k) ++below;
    size_t tied = below;
    while (tied < neg.size() && neg[tied] == k) ++tied;
    area += static_cast<double>(j - i) * (static_cast<double>(below) + 0.5 * static_cast<double>(tied - below));
    i = j;
  }
  return area / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
}

bool any_nan(const std::vector<double>& v) {
  for (double d : v)
    if (std::isnan(d)) return true;
  return false;
}

void check_binary(const std::vector<int>& labels) {
  for (int l : labels) MVB_CHECK(l == 0 || l == 1, "AUROC: binary labels must be 0 or 1, got ", l);
}

// AUROC from samples sorted by ascending score: per tie group, positives beat the negatives
// below it and half of the negatives tied with them (Mann-Whitney U with mid-ranks, which equals
// sklearn's trapezoidal area).
template <class Weight>
std::optional<double> auroc_sorted(const std::vector<uint32_t>& order, const std::vector<uint64_t>& keys,
                                   const std::vector<int>& labels, Weight weight, std::string* reason) {
  double neg_below = 0, pos_total = 0, area = 0;
  const size_t n = order.size();
  for (size_t i = 0; i < n;) {
    const uint64_t k = keys[order[i]];
    double pos = 0, neg = 0;
    size_t j = i;
    for (; j < n && keys[order[j]] == k; ++j) {
      const uint32_t s = order[j];
      const double w = weight(s);
      if (labels[s])
        pos += w;
      else
        neg += w;
    }
    area += pos * (neg_below + 0.5 * neg);
    neg_below += neg;
    pos_total += pos;
    i = j;
  }
  if (pos_total == 0 || neg_below == 0) {
    if (reason) *reason = "only one class present in the labels; AUROC is undefined";
    return std::nullopt;
  }
  return area / (pos_total * neg_below);
}

}  // namespace

std::optional<double> binary_auroc(const std::vector<int>& labels, const std::vector<double>& scores,
                                   std::string* reason) {
  MVB_CHECK(labels.size() == scores.size(), "AUROC: ", labels.size(), " labels but ", scores.size(), " scores");
  check_binary(labels);
  if (any_nan(scores)) {
    if (reason) *reason = "a score is NaN; AUROC is undefined";
    return std::nullopt;
  }
  std::vector<uint64_t> keys;
  const auto order = ascending_order(scores, keys);
  return auroc_sorted(
      order, keys, labels, [](uint32_t) { return 1.0; }, reason);
}

std::optional<double> weighted_binary_auroc(const std::vector<int>& labels, const std::vector<double>& scores,
                                            const std::vector<uint32_t>& weights, std::string* reason) {
  MVB_CHECK(labels.size() == scores.size() && weights.size() == scores.size(), "AUROC: size mismatch");
  check_binary(labels);
  if (any_nan(scores)) {
    if (reason) *reason = "a score is NaN; AUROC is undefined";
    return std::nullopt;
  }
  std::vector<uint64_t> keys;
  const auto order = ascending_order(scores, keys);
  return auroc_sorted(
      order, keys, labels, [&](uint32_t s) { return static_cast<double>(weights[s]); }, reason);
}

PresortedAuroc::PresortedAuroc(std::vector<int> labels, const std::vector<double>& scores) {
  MVB_CHECK(labels.size() == scores.size(), "AUROC: ", labels.size(), " labels but ", scores.size(), " scores");
  check_binary(labels);
  has_nan_ = any_nan(scores);
  std::vector<uint64_t> keys;
  order_ = ascending_order(scores, keys);
  labels_.resize(order_.size());
  group_.resize(order_.size());
  uint32_t g = 0;
  for (size_t i = 0; i < order_.size(); ++i) {
    if (i > 0 && keys[order_[i]] != keys[order_[i - 1]]) ++g;
    labels_[i] = labels[order_[i]];
    group_[i] = g;
  }
}

std::optional<double> PresortedAuroc::auroc(const std::vector<uint32_t>* weights, std::string* reason) const {
  if (has_nan_) {
    if (reason) *reason = "a score is NaN; AUROC is undefined";
    return std::nullopt;
  }
  double neg_below = 0, pos_total = 0, area = 0, pos = 0, neg = 0;
  const size_t n = order_.size();
  for (size_t i = 0; i < n; ++i) {
    const double w = weights ? static_cast<double>((*weights)[order_[i]]) : 1.0;
    if (labels_[i])
      pos += w;
    else
      neg += w;
    if (i + 1 == n || group_[i + 1] != group_[i]) {
      area += pos * (neg_below + 0.5 * neg);
      neg_below += neg;
      pos_total += pos;
      pos = neg = 0;
    }
  }
  if (pos_total == 0 || neg_below == 0) {
    if (reason) *reason = "only one class present in the labels; AUROC is undefined";
    return std::nullopt;
  }
  return area / (pos_total * neg_below);
}

std::optional<RocCurve> roc_curve(const std::vector<int>& labels, const std::vector<double>& scores,
                                  std::string* reason) {
  MVB_CHECK(labels.size() == scores.size(), "ROC: ", labels.size(), " labels but ", scores.size(), " scores");
  check_binary(labels);
  if (any_nan(scores)) {
    if (reason) *reason = "a score is NaN; the ROC curve is undefined";
    return std::nullopt;
  }
  std::vector<uint64_t> keys;
  auto order = ascending_order(scores, keys);
  std::reverse(order.begin(), order.end());  // descending, as sklearn
  // Cumulative counts at the last index of each distinct score.
  std::vector<double> tps, fps, thr;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (labels[order[i]])
      ++tp;
    else
      ++fp;
    if (i + 1 == order.size() || keys[order[i + 1]] != keys[order[i]]) {
      tps.push_back(tp);
      fps.push_back(fp);
      thr.push_back(scores[order[i]]);
    }
  }
  if (tp == 0 || fp == 0) {
    if (reason) *reason = "only one class present in the labels; the ROC curve is undefined";
    return std::nullopt;
  }
  // drop_intermediate: keep the ends and every point where the curve bends (second differences).
  std::vector<size_t> keep;
  for (size_t i = 0; i < tps.size(); ++i) {
    const bool end = i == 0 || i + 1 == tps.size();
    if (end || (fps[i - 1] - 2 * fps[i] + fps[i + 1]) != 0 || (tps[i - 1] - 2 * tps[i] + tps[i + 1]) != 0)
      keep.push_back(i);
  }
  RocCurve c;
  c.fpr.push_back(0);
  c.tpr.push_back(0);
  c.thresholds.push_back(thr[keep[0]] + 1);
  for (size_t i : keep) {
    c.fpr.push_back(fps[i] / fp);
    c.tpr.push_back(tps[i] / tp);
    c.thresholds.push_back(thr[i]);
  }
  return c;
}

namespace {

MulticlassAuroc column_aurocs(const std::vector<int>& col_labels, const std::vector<double>& scores, int k,
                              const char* what) {
  const size_t n = k > 0 ? scores.size() / static_cast<size_t>(k) : 0;
  MulticlassAuroc r;
  r.per_class.resize(static_cast<size_t>(k));
  // Columns are independent: one thread per column, up to the machine's cores.
  auto column = [&](int c) {
    std::vector<uint64_t> pos, neg;
    bool nan = false;
    for (size_t i = 0; i < n; ++i) {
      const size_t at = i * static_cast<size_t>(k) + static_cast<size_t>(c);
      MVB_CHECK(col_labels[at] == 0 || col_labels[at] == 1, "AUROC: binary labels must be 0 or 1, got ",
                col_labels[at]);
      nan |= std::isnan(scores[at]);
      (col_labels[at] ? pos : neg).push_back(order_key(scores[at]));
    }
    if (!nan) r.per_class[static_cast<size_t>(c)] = auroc_from_split_keys(pos, neg, nullptr);
  };
  const int threads =
      n < 50000 ? 1 : std::max(1, std::min<int>(k, static_cast<int>(std::thread::hardware_concurrency())));
  if (threads == 1) {
    for (int c = 0; c < k; ++c) column(c);
  } else {
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        try {
          for (int c = t; c < k; c += threads) column(c);
        } catch (...) {
          errors[static_cast<size_t>(t)] = std::current_exception();
        }
      });
    for (auto& th : pool) th.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
  double macro_sum = 0, weighted_sum = 0, weight_total = 0;
  int defined = 0;
  std::vector<std::string> skipped;
  for (int c = 0; c < k; ++c) {
    double prevalence = 0;
    for (size_t i = 0; i < n; ++i) prevalence += col_labels[i * static_cast<size_t>(k) + static_cast<size_t>(c)];
    const auto& a = r.per_class[static_cast<size_t>(c)];
    if (a) {
      ++defined;
      macro_sum += *a;
      weighted_sum += prevalence * *a;
      weight_total += prevalence;
    } else {
      skipped.push_back(std::to_string(c));
    }
  }
  if (defined > 0) {
    r.macro = macro_sum / defined;
    if (weight_total > 0) r.weighted = weighted_sum / weight_total;
  }
  if (!skipped.empty()) {
    std::string list;
    for (size_t i = 0; i < skipped.size(); ++i) list += (i ? "," : "") + skipped[i];
    r.reason = std::string(defined ? "averaged over the " : "undefined: no ") + what +
               (defined ? " with both classes present; skipped " : " has both classes present; ") + what + " " + list;
  }
  return r;
}

}  // namespace

MulticlassAuroc ovr_auroc(const std::vector<int>& labels, const std::vector<double>& scores, int num_classes) {
  MVB_CHECK(num_classes > 0 && scores.size() == labels.size() * static_cast<size_t>(num_classes),
            "one-vs-rest AUROC: ", labels.size(), " labels but ", scores.size(), " scores for ", num_classes,
            " classes");
  std::vector<int> onehot(scores.size(), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    MVB_CHECK(labels[i] >= 0 && labels[i] < num_classes, "label ", labels[i], " outside [0, ", num_classes, ")");
    onehot[i * static_cast<size_t>(num_classes) + static_cast<size_t>(labels[i])] = 1;
  }
  return column_aurocs(onehot, scores, num_classes, "classes");
}

MulticlassAuroc multilabel_auroc(const std::vector<int>& labels, const std::vector<double>& scores, int num_labels) {
  MVB_CHECK(num_labels > 0 && scores.size() == labels.size(), "multi-label AUROC: ", labels.size(), " labels but ",
            scores.size(), " scores");
  return column_aurocs(labels, scores, num_labels, "labels");
}

std::optional<double> accuracy(const std::vector<int>& labels, const std::vector<int>& predictions) {
  MVB_CHECK(labels.size() == predictions.size(), "accuracy: size mismatch");
  if (labels.empty()) return std::nullopt;
  size_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += labels[i] == predictions[i];
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

namespace {

// tp, support (true count) and predicted count per class id, for small dense class ids or any ids.
struct ClassCounts {
  std::map<int, std::array<double, 3>> by_class;  // tp, true count, predicted count
};

ClassCounts count_classes(const std::vector<int>& labels, const std::vector<int>& predictions) {
  MVB_CHECK(labels.size() == predictions.size(), "classification metrics: ", labels.size(), " labels but ",
            predictions.size(), " predictions");
  // Dense counting for the usual small non-negative ids, a map otherwise.
  int lo = 0, hi = -1;
  for (size_t i = 0; i < labels.size(); ++i) {
    lo = std::min({lo, labels[i], predictions[i]});
    hi = std::max({hi, labels[i], predictions[i]});
  }
  ClassCounts cc;
  if (lo >= 0 && hi < 1 << 16) {
    std::vector<std::array<double, 3>> dense(static_cast<size_t>(hi + 1), {0, 0, 0});
    std::vector<char> seen(static_cast<size_t>(hi + 1), 0);
    for (size_t i = 0; i < labels.size(); ++i) {
      auto& t = dense[static_cast<size_t>(labels[i])];
      t[1] += 1;
      dense[static_cast<size_t>(predictions[i])][2] += 1;
      if (labels[i] == predictions[i]) t[0] += 1;
      seen[static_cast<size_t>(labels[i])] = seen[static_cast<size_t>(predictions[i])] = 1;
    }
    for (int c = 0; c <= hi; ++c)
      if (seen[static_cast<size_t>(c)]) cc.by_class[c] = dense[static_cast<size_t>(c)];
    return cc;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    auto& t = cc.by_class[labels[i]];
    t[1] += 1;
    cc.by_class[predictions[i]][2] += 1;
    if (labels[i] == predictions[i]) t[0] += 1;
  }
  return cc;
}

}  // namespace

std::optional<double> balanced_accuracy(const std::vector<int>& labels, const std::vector<int>& predictions) {
  if (labels.empty()) return std::nullopt;
  const ClassCounts cc = count_classes(labels, predictions);
  double sum = 0;
  int classes = 0;
  for (const auto& [c, t] : cc.by_class) {
    if (t[1] == 0) continue;  // a class only predicted has no recall (sklearn drops it with a warning)
    sum += t[0] / t[1];
    ++classes;
  }
  return sum / classes;
}

std::optional<double> macro_f1(const std::vector<int>& labels, const std::vector<int>& predictions) {
  if (labels.empty()) return std::nullopt;
  const ClassCounts cc = count_classes(labels, predictions);
  double sum = 0;
  for (const auto& [c, t] : cc.by_class) {
    const double tp = t[0], fn = t[1] - t[0], fp = t[2] - t[0];
    sum += 2 * tp / (2 * tp + fp + fn);
  }
  return sum / static_cast<double>(cc.by_class.size());
}

std::vector<int> argmax_rows(const std::vector<double>& scores, int k) {
  MVB_CHECK(k > 0 && scores.size() % static_cast<size_t>(k) == 0, "argmax: ", scores.size(),
            " scores is not a multiple of ", k);
  const size_t n = scores.size() / static_cast<size_t>(k);
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double* row = scores.data() + i * static_cast<size_t>(k);
    int best = 0;
    for (int c = 1; c < k; ++c)
      if (row[c] > row[best]) best = c;  // numpy: first maximum wins (NaN handling aside)
    out[i] = best;
  }
  return out;
}

}  // namespace mvb::metrics
