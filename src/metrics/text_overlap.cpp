#include "medvlmbench/metrics/text_overlap.h"

#include <algorithm>
#include <cmath>

#include "medvlmbench/metrics/pytext.h"

namespace mvb::metrics {
namespace {

// The n-grams of `tokens` of order n, as (start index) sorted by content; counts come from runs.
struct NgramView {
  const std::vector<std::string>* tokens;
  int n;
  std::vector<size_t> starts;  // sorted by n-gram content
};

bool ngram_less(const std::vector<std::string>& a, size_t i, const std::vector<std::string>& b, size_t j, int n) {
  for (int k = 0; k < n; ++k) {
    const int c = a[i + k].compare(b[j + k]);
    if (c != 0) return c < 0;
  }
  return false;
}

NgramView sorted_ngrams(const std::vector<std::string>& t, int n) {
  NgramView v{&t, n, {}};
  if (t.size() >= static_cast<size_t>(n))
    for (size_t i = 0; i + n <= t.size(); ++i) v.starts.push_back(i);
  std::sort(v.starts.begin(), v.starts.end(), [&](size_t a, size_t b) { return ngram_less(t, a, t, b, n); });
  return v;
}

// sum over n-gram types of min(count in a, count in b): the clipped overlap.
double clipped_hits(const NgramView& a, const NgramView& b) {
  const auto& ta = *a.tokens;
  const auto& tb = *b.tokens;
  const int n = a.n;
  double hits = 0;
  size_t i = 0, j = 0;
  while (i < a.starts.size() && j < b.starts.size()) {
    if (ngram_less(ta, a.starts[i], tb, b.starts[j], n)) {
      ++i;
    } else if (ngram_less(tb, b.starts[j], ta, a.starts[i], n)) {
      ++j;
    } else {
      size_t ci = 0, cj = 0;
      const size_t ai = a.starts[i], bj = b.starts[j];
      while (i < a.starts.size() && !ngram_less(ta, ai, ta, a.starts[i], n)) ++i, ++ci;
      while (j < b.starts.size() && !ngram_less(tb, bj, tb, b.starts[j], n)) ++j, ++cj;
      hits += static_cast<double>(std::min(ci, cj));
    }
  }
  return hits;
}

RougeScore prf(double hits, double pred_len, double ref_len) {
  RougeScore s;
  s.precision = hits / pred_len;
  s.recall = hits / ref_len;
  if (s.precision == 0.0 && s.recall == 0.0) return s;
  s.fmeasure = 2 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

}  // namespace

double bleu(const std::vector<std::string>& pred, const std::vector<std::string>& ref, int n) {
  if (n < 1) return 0.0;
  double log_sum = 0;
  for (int k = 1; k <= n; ++k) {
    const NgramView p = sorted_ngrams(pred, k);
    const NgramView r = sorted_ngrams(ref, k);
    const double num = clipped_hits(p, r);
    if (num == 0.0) return 0.0;
    log_sum += (1.0 / n) * std::log(num / static_cast<double>(p.starts.size()));
  }
  const double c = static_cast<double>(pred.size()), r = static_cast<double>(ref.size());
  const double bp = c > r ? 1.0 : std::exp(1.0 - r / c);
  return bp * std::exp(log_sum);
}

std::array<double, 4> bleu_1_to_4(const std::vector<std::string>& pred, const std::vector<std::string>& ref) {
  std::array<double, 4> out{};
  const double c = static_cast<double>(pred.size()), r = static_cast<double>(ref.size());
  const double bp = c > r ? 1.0 : std::exp(1.0 - r / c);
  double log_p[4];
  for (int k = 1; k <= 4; ++k) {
    const NgramView p = sorted_ngrams(pred, k);
    const double num = p.starts.empty() ? 0.0 : clipped_hits(p, sorted_ngrams(ref, k));
    if (num == 0.0) break;  // this order and every higher one score 0
    log_p[k - 1] = std::log(num / static_cast<double>(p.starts.size()));
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += (1.0 / k) * log_p[j];
    out[static_cast<size_t>(k - 1)] = bp * std::exp(sum);
  }
  return out;
}

std::vector<std::string> rouge_tokens(std::string_view text) {
  // Lower-casing can only turn a few non-ASCII code points into ASCII (K KELVIN SIGN -> k,
  // U+0130 -> i + combining dot), so lower first, then keep ASCII [a-z0-9] runs.
  const std::string lowered = py_lower(text);
  std::vector<std::string> out;
  std::string cur;
  for (char ch : lowered) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
      cur.push_back(ch);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

RougeScore rouge_n(const std::vector<std::string>& pred, const std::vector<std::string>& ref, int n) {
  const NgramView p = sorted_ngrams(pred, n);
  const NgramView r = sorted_ngrams(ref, n);
  if (p.starts.empty() || r.starts.empty()) return {};
  return prf(clipped_hits(p, r), static_cast<double>(p.starts.size()), static_cast<double>(r.starts.size()));
}

RougeScore rouge_l(const std::vector<std::string>& pred, const std::vector<std::string>& ref) {
  if (pred.empty() || ref.empty()) return {};
  // Two-row LCS table.
  std::vector<int> prev(pred.size() + 1, 0), cur(pred.size() + 1, 0);
  for (size_t i = 1; i <= ref.size(); ++i) {
    for (size_t j = 1; j <= pred.size(); ++j)
      cur[j] = ref[i - 1] == pred[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prf(prev[pred.size()], static_cast<double>(pred.size()), static_cast<double>(ref.size()));
}

}  // namespace mvb::metrics
