#include "medvlmbench/metrics/bootstrap.h"

#include <algorithm>
#include <cmath>

namespace mvb::metrics {
uint64_t BootstrapRng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

BootstrapRng::BootstrapRng(uint64_t seed) {
  for (auto& w : s_) {
    seed += 0x9E3779B97F4A7C15ULL;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    w = z ^ (z >> 31);
  }
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

std::optional<std::array<double, 2>> bootstrap_ci(
    size_t n, int resamples, uint64_t seed,
    const std::function<std::optional<double>(const std::vector<uint32_t>& counts)>& statistic) {
  if (n == 0 || resamples <= 0) return std::nullopt;
  BootstrapRng rng(seed);
  std::vector<uint32_t> counts(n);
  std::vector<double> stats;
  stats.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    std::fill(counts.begin(), counts.end(), 0u);
    for (size_t i = 0; i < n; ++i) ++counts[rng.below(static_cast<uint32_t>(n))];
    if (auto s = statistic(counts)) stats.push_back(*s);
  }
  if (stats.empty()) return std::nullopt;
  return std::array<double, 2>{percentile(stats, 2.5), percentile(stats, 97.5)};
}

std::optional<std::array<double, 2>> bootstrap_mean_ci(const std::vector<double>& values, int resamples,
                                                       uint64_t seed) {
  return bootstrap_ci(values.size(), resamples, seed, [&](const std::vector<uint32_t>& counts) {
    double sum = 0;
    for (size_t i = 0; i < values.size(); ++i) sum += counts[i] * values[i];
    return std::optional<double>(sum / static_cast<double>(values.size()));
  });
}

std::vector<std::optional<std::array<double, 2>>> bootstrap_means_ci(
    const std::vector<const std::vector<double>*>& columns, int resamples, uint64_t seed) {
  std::vector<std::optional<std::array<double, 2>>> out(columns.size());
  if (columns.empty() || resamples <= 0) return out;
  const size_t n = columns[0]->size();
  if (n == 0) return out;
  std::vector<std::vector<double>> stats(columns.size());
  std::vector<double> sums(columns.size());
  BootstrapRng rng(seed);
  for (int r = 0; r < resamples; ++r) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t k = rng.below(static_cast<uint32_t>(n));
      for (size_t c = 0; c < columns.size(); ++c) sums[c] += (*columns[c])[k];
    }
    for (size_t c = 0; c < columns.size(); ++c) stats[c].push_back(sums[c] / static_cast<double>(n));
  }
  for (size_t c = 0; c < columns.size(); ++c)
    out[c] = std::array<double, 2>{percentile(stats[c], 2.5), percentile(stats[c], 97.5)};
  return out;
}

}  // namespace mvb::metrics
