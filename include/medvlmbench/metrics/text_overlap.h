// N-gram overlap scores with torchmetrics' defaults, as the reference calls them on one
// (prediction, reference) pair at a time.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace mvb::metrics {

// torchmetrics.functional.text.bleu_score([pred], [[ref]], n_gram=n): whitespace tokens (the
// caller passes pred.split()), uniform weights 1/n, no smoothing, clipped n-gram precisions for
// orders 1..n, brevity penalty exp(1 - r/c) when c <= r (1 when c > r). 0 when any order has no
// match (which includes an empty prediction or one shorter than n tokens).
double bleu(const std::vector<std::string>& pred, const std::vector<std::string>& ref, int n);

// bleu(pred, ref, n) for n = 1..4 at once (the n-gram counts are shared between the orders).
std::array<double, 4> bleu_1_to_4(const std::vector<std::string>& pred, const std::vector<std::string>& ref);

struct RougeScore {
  double precision = 0, recall = 0, fmeasure = 0;
};

// torchmetrics' default ROUGE tokenizer: lower-case, every run of characters outside [a-z0-9]
// becomes a space (so non-ASCII letters separate words), split, drop empties. No stemmer.
std::vector<std::string> rouge_tokens(std::string_view text);

// ROUGE-N over n-gram counts (clipped hits) and ROUGE-L over the longest common subsequence;
// all zero when either side has no n-grams / tokens.
RougeScore rouge_n(const std::vector<std::string>& pred, const std::vector<std::string>& ref, int n);
RougeScore rouge_l(const std::vector<std::string>& pred, const std::vector<std::string>& ref);

}  // namespace mvb::metrics
