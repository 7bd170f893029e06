// Bootstrap CIs: deterministic for a seed, numpy's percentile definition, sensible coverage.
#include "medvlmbench/metrics/bootstrap.h"

#include <gtest/gtest.h>

#include <random>

#include "metrics_oracle_support.h"

namespace mvb::metrics {
namespace {

TEST(Bootstrap, PercentileMatchesNumpyLinearInterpolation) {
  MVB_REQUIRE_PYTHON();
  std::mt19937 rng(3);
  std::vector<double> v;
  for (int i = 0; i < 37; ++i) v.push_back(std::uniform_real_distribution<double>(-5, 5)(rng));
  // The values go to numpy as std::to_string prints them (6 decimals), so ours reads the same rounding.
  std::vector<std::string> args = {"2.5,97.5"};
  for (double d : v) args.push_back(std::to_string(d));
  const auto r =
      test::run_oracle_script(test::OracleInterpreter::kDebianPython, "metrics/numpy_percentile_oracle.py", args);
  ASSERT_EQ(r.exit_code, 0);
  std::vector<double> rounded;
  for (double d : v) rounded.push_back(std::stod(std::to_string(d)));
  double lo = 0, hi = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "%lf %lf", &lo, &hi), 2);
  EXPECT_NEAR(percentile(rounded, 2.5), lo, 1e-12);
  EXPECT_NEAR(percentile(rounded, 97.5), hi, 1e-12);
}

TEST(Bootstrap, SeededAndCoversTheMean) {
  std::vector<double> v;
  std::mt19937 rng(1);
  for (int i = 0; i < 500; ++i) v.push_back(rng() % 4 == 0);  // p = 0.25
  const auto a = bootstrap_mean_ci(v, 1000, 42), b = bootstrap_mean_ci(v, 1000, 42), c = bootstrap_mean_ci(v, 1000, 43);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  double mean = 0;
  for (double d : v) mean += d / v.size();
  EXPECT_LT((*a)[0], mean);
  EXPECT_GT((*a)[1], mean);
  // Normal approximation of the 95% interval half-width: 1.96 * sqrt(p(1-p)/n) ~ 0.038.
  const double half = ((*a)[1] - (*a)[0]) / 2;
  EXPECT_NEAR(half, 1.96 * std::sqrt(mean * (1 - mean) / v.size()), 0.006);
}

TEST(Bootstrap, SharedResamplesGiveTheSameIntervalForTheSameColumn) {
  std::vector<double> v = {0, 1, 1, 0, 1, 0, 0, 1, 1, 1};
  const auto cis = bootstrap_means_ci({&v, &v}, 200, 9);
  ASSERT_TRUE(cis[0] && cis[1]);
  EXPECT_EQ(*cis[0], *cis[1]);
}

TEST(Bootstrap, UndefinedWhenEmptyOrDisabledOrNeverDefined) {
  EXPECT_FALSE(bootstrap_mean_ci({}, 100, 0));
  EXPECT_FALSE(bootstrap_mean_ci({1.0, 2.0}, 0, 0));
  EXPECT_FALSE(bootstrap_ci(5, 100, 0, [](const std::vector<uint32_t>&) { return std::optional<double>(); }));
}

}  // namespace
}  // namespace mvb::metrics
