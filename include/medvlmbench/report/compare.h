// `medvlmbench compare RUN_A RUN_B`: per-meter differences between two runs on the samples both
// scored, with a paired bootstrap p-value, and the samples whose correctness changed.
//
// The paired bootstrap, exactly (tests/oracles/report/paired_bootstrap_oracle.py reproduces it):
//   shared samples: ids scored in both runs with a value of the meter, in run A's row order;
//   delta_i = b_i - a_i (per-sample values, TaskEvaluator::sample_values); d = sum(delta) / n, summed
//   left to right;
//   for r in 0..R-1: draw n indices with metrics::BootstrapRng(seed).below(n) (one stream for all
//   resamples, drawn in order), d_r = sum(delta[idx]) / n, summed in draw order;
//   p = (1 + #{r : |d_r - d| >= |d|}) / (R + 1)   (two-sided; the resampled differences centred on d
//   stand in for the null of no difference); p = 1 when d == 0;
//   ci95 of the difference: numpy percentiles 2.5 and 97.5 of d_r (linear interpolation).
// Only meters that are means of per-sample values can be compared this way; AUROC and BERTScore
// cannot (compare names the meters it can).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mvb::report {

struct PairedBootstrap {
  size_t n = 0;
  int resamples = 0;
  uint64_t seed = 0;
  double mean_a = 0, mean_b = 0;
  double diff = 0;  // mean of b - a
  double p_value = 1;
  std::array<double, 2> ci95{0, 0};  // of the difference
};

// Throws mvb::Error when a and b differ in length or are empty, or resamples < 1.
PairedBootstrap paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                 uint64_t seed);

struct MeterComparison {
  std::string meter;
  nlohmann::json a_all, b_all;  // the values metrics.json holds for each whole run (null when absent)
  PairedBootstrap test;         // on the shared samples
};

struct ChangedSample {
  std::string id;
  double a = 0, b = 0;                               // correctness (1/0) in each run
  std::string meter;                                 // which per-sample value said so
  nlohmann::json detail = nlohmann::json::object();  // question, answer, prediction_a/b or label, pred_a/b
};

struct Comparison {
  std::string run_a, run_b;
  std::string task, dataset_a, dataset_b;
  size_t rows_a = 0, rows_b = 0, shared = 0;
  std::vector<MeterComparison> meters;
  std::vector<ChangedSample> changed;  // fixed (0 -> 1) first, then broken (1 -> 0), in A's order
};

struct CompareOptions {
  std::vector<std::string> meters;  // empty = the task's headline meters that are per-sample means
  int resamples = 1000;
  uint64_t seed = 0;
};

// Throws mvb::UsageError when the runs are of different tasks or a requested meter cannot be compared
// (listing those that can).
Comparison compare_runs(const std::string& run_a, const std::string& run_b, const CompareOptions& opts);

nlohmann::json to_json(const Comparison& c);
std::string to_text(const Comparison& c);
std::string to_markdown(const Comparison& c);

}  // namespace mvb::report
