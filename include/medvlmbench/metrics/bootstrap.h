// Percentile bootstrap confidence intervals. The reference reports none; we report a seeded 95%
// interval for every headline metric so that two models can be compared honestly.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace mvb::metrics {

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
