// Percentile bootstrap confidence intervals. The reference reports none; we report a seeded 95%
// interval for every headline metric so that two models can be compared honestly.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace mvb::metrics {

// The resampling stream of every bootstrap here: splitmix64-seeded xoshiro256**, each draw in [0, n)
// by Lemire's multiply-shift on the top 32 bits ((next() >> 32) * n >> 32). Chosen because it is
// identical on every platform (std::mt19937_64 + uniform_int_distribution is not specified bit for
// bit) and a dozen lines in any language: tests/oracles/report/paired_bootstrap_oracle.py reproduces
// it exactly in Python to check `medvlmbench compare`.
class BootstrapRng {
 public:
  explicit BootstrapRng(uint64_t seed);
  uint64_t next();
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Draws `resamples` resamples of n items with replacement (seeded, deterministic), each given to
// `statistic` as per-item counts; returns the 2.5th and 97.5th percentiles (numpy's linear
// interpolation) of the defined statistics, or nullopt when none is defined or n == 0.
std::optional<std::array<double, 2>> bootstrap_ci(
    size_t n, int resamples, uint64_t seed,
    const std::function<std::optional<double>(const std::vector<uint32_t>& counts)>& statistic);

// The common case: the statistic is the mean of per-item values.
std::optional<std::array<double, 2>> bootstrap_mean_ci(const std::vector<double>& values, int resamples, uint64_t seed);

// Means of several per-item columns (same length), all from the SAME resamples: one pass of draws
// serves every meter of a subset.
std::vector<std::optional<std::array<double, 2>>> bootstrap_means_ci(
    const std::vector<const std::vector<double>*>& columns, int resamples, uint64_t seed);

// numpy.percentile(values, q) with linear interpolation; values need not be sorted.
double percentile(std::vector<double> values, double q);

}  // namespace mvb::metrics
