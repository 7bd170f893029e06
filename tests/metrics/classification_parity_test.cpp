// Diagnosis metrics against scikit-learn 1.2 (tests/metrics/oracles/sklearn_oracle.py): binary
// AUROC and ROC curve, one-vs-rest macro/weighted AUROC, multi-label AUROC, accuracy, balanced
// accuracy and macro F1, over many seeds with heavy ties, imbalanced and degenerate inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/classification.h"
#include "metrics_oracle_support.h"

namespace mvb::metrics {
namespace {

using nlohmann::json;

// Scores drawn from a few levels (many ties) or continuous, labels with random prevalence.
struct BinaryCase {
  std::vector<int> labels;
  std::vector<double> scores;
};

BinaryCase random_binary(std::mt19937& rng) {
  BinaryCase c;
  const int n = 1 + static_cast<int>(rng() % 300);
  const double prevalence = std::uniform_real_distribution<double>(0.02, 0.98)(rng);
  const int levels = rng() % 3 == 0 ? 2 + static_cast<int>(rng() % 6) : 0;  // 0: continuous
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < n; ++i) {
    const int y = u(rng) < prevalence;
    double s = levels ? std::floor(u(rng) * levels) / levels : u(rng);
    if (y && u(rng) < 0.5) s = std::min(1.0, s + 0.2);  // some signal
    if (rng() % 50 == 0) s = -0.0;                      // signed zeros tie with 0
    c.labels.push_back(y);
    c.scores.push_back(s);
  }
  return c;
}

TEST(ClassificationParity, BinaryAurocAndRocCurveMatchSklearn) {
  MVB_REQUIRE_PYTHON();
  std::vector<BinaryCase> cases;
  json in = {{"cases", json::array()}};
  for (int seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(seed);
    cases.push_back(random_binary(rng));
    in["cases"].push_back({{"kind", "binary"}, {"labels", cases.back().labels}, {"scores", cases.back().scores}});
  }
  // Degenerate: one class only, a single sample, all scores tied.
  cases.push_back({{1, 1, 1}, {0.1, 0.5, 0.9}});
  cases.push_back({{0}, {0.3}});
  cases.push_back({{0, 1, 0, 1}, {0.5, 0.5, 0.5, 0.5}});
  for (size_t i = cases.size() - 3; i < cases.size(); ++i)
    in["cases"].push_back({{"kind", "binary"}, {"labels", cases[i].labels}, {"scores", cases[i].scores}});
  const json out = test::run_oracle("sklearn_oracle.py", in);
  ASSERT_EQ(out["results"].size(), cases.size());
  int undefined = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& o = out["results"][i];
    std::string why;
    const auto auc = binary_auroc(cases[i].labels, cases[i].scores, &why);
    if (o.contains("error")) {
      EXPECT_FALSE(auc) << "case " << i << ": sklearn raised '" << o["error"] << "' but we returned a value";
      EXPECT_FALSE(why.empty());
      ++undefined;
      continue;
    }
    ASSERT_TRUE(auc) << "case " << i << ": " << why;
    EXPECT_NEAR(*auc, o["auc"].get<double>(), 1e-9) << "case " << i;
    const auto roc = roc_curve(cases[i].labels, cases[i].scores);
    ASSERT_TRUE(roc);
    ASSERT_EQ(roc->fpr.size(), o["fpr"].size()) << "case " << i;
    for (size_t j = 0; j < roc->fpr.size(); ++j) {
      EXPECT_NEAR(roc->fpr[j], o["fpr"][j].get<double>(), 1e-12);
      EXPECT_NEAR(roc->tpr[j], o["tpr"][j].get<double>(), 1e-12);
      EXPECT_NEAR(roc->thresholds[j], o["thresholds"][j].get<double>(), 1e-12);
    }
  }
  EXPECT_GE(undefined, 2);
}

TEST(ClassificationParity, LargeBinaryAurocUsesTheRadixPathAndMatches) {
  MVB_REQUIRE_PYTHON();
  std::mt19937 rng(7);
  BinaryCase c;
  std::uniform_real_distribution<double> u(-3, 3);
  for (int i = 0; i < 20000; ++i) {  // above the radix-sort threshold, with negatives and ties
    const int y = rng() % 3 == 0;
    c.labels.push_back(y);
    c.scores.push_back(std::round((u(rng) + y) * 100) / 100);
  }
  const json out = test::run_oracle("sklearn_oracle.py",
                                    {{"cases", {{{"kind", "binary"}, {"labels", c.labels}, {"scores", c.scores}}}}});
  EXPECT_NEAR(*binary_auroc(c.labels, c.scores), out["results"][0]["auc"].get<double>(), 1e-9);
  std::vector<uint32_t> ones(c.labels.size(), 1);
  EXPECT_NEAR(*weighted_binary_auroc(c.labels, c.scores, ones), out["results"][0]["auc"].get<double>(), 1e-9);
  EXPECT_NEAR(*PresortedAuroc(c.labels, c.scores).auroc(nullptr), out["results"][0]["auc"].get<double>(), 1e-9);
}

TEST(ClassificationParity, OneVsRestAndMultiLabelAurocMatchSklearn) {
  MVB_REQUIRE_PYTHON();
  json in = {{"cases", json::array()}};
  struct Case {
    std::vector<int> labels;
    std::vector<double> scores;
    int k;
    bool multilabel;
  };
  std::vector<Case> cases;
  for (int seed = 0; seed < 120; ++seed) {
    std::mt19937 rng(1000 + seed);
    const int k = 3 + static_cast<int>(rng() % 6);
    const int n = k + static_cast<int>(rng() % 200);
    std::uniform_real_distribution<double> u(0, 1);
    Case c{{}, {}, k, seed % 2 == 1};
    for (int i = 0; i < n; ++i) {
      std::vector<double> logits(k);
      double z = 0;
      for (auto& l : logits) z += (l = std::exp(std::floor(u(rng) * (seed % 3 == 0 ? 4 : 1000)) / 4));
      if (c.multilabel) {
        for (int j = 0; j < k; ++j) {
          c.labels.push_back(u(rng) < 0.3 + 0.4 * (logits[j] / z));
          c.scores.push_back(std::round(logits[j] / z * 50) / 50);
        }
      } else {
        // Every class appears (sklearn requires it): the first k samples cycle through them.
        const int y = i < k ? i : static_cast<int>(rng() % k);
        logits[y] *= 1.5;
        z = 0;
        for (double l : logits) z += l;
        c.labels.push_back(y);
        for (double l : logits) c.scores.push_back(l / z);  // rows sum to 1, as sklearn checks
      }
    }
    cases.push_back(c);
    if (c.multilabel)
      in["cases"].push_back({{"kind", "multilabel"}, {"labels", c.labels}, {"scores", c.scores}, {"k", k}});
    else
      in["cases"].push_back({{"kind", "ovr"}, {"labels", c.labels}, {"scores", c.scores}});
  }
  const json out = test::run_oracle("sklearn_oracle.py", in);
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& o = out["results"][i];
    const Case& c = cases[i];
    const auto got = c.multilabel ? multilabel_auroc(c.labels, c.scores, c.k) : ovr_auroc(c.labels, c.scores, c.k);
    if (o.contains("error")) {  // a label column with one class: sklearn raises, we skip it
      EXPECT_FALSE(got.reason.empty()) << "case " << i << ": " << o["error"];
      continue;
    }
    ASSERT_TRUE(got.macro) << got.reason;
    EXPECT_NEAR(*got.macro, o["macro"].get<double>(), 1e-9) << "case " << i;
    if (c.multilabel) {
      for (int j = 0; j < c.k; ++j) EXPECT_NEAR(*got.per_class[j], o["per_label"][j].get<double>(), 1e-9);
    } else {
      EXPECT_NEAR(*got.weighted, o["weighted"].get<double>(), 1e-9) << "case " << i;
      for (int j = 0; j < c.k; ++j) EXPECT_NEAR(*got.per_class[j], o["per_class"][j].get<double>(), 1e-9);
    }
  }
}

TEST(ClassificationParity, AccuracyBalancedAccuracyMacroF1MatchSklearn) {
  MVB_REQUIRE_PYTHON();
  json in = {{"cases", json::array()}};
  std::vector<std::pair<std::vector<int>, std::vector<int>>> cases;
  for (int seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(5000 + seed);
    const int k = 2 + static_cast<int>(rng() % 8);
    const int n = 1 + static_cast<int>(rng() % 150);
    std::vector<int> y(n), p(n);
    for (int i = 0; i < n; ++i) {
      y[i] = static_cast<int>(rng() % k);
      // Predictions: often right, sometimes a class absent from the labels (k, or negative ids).
      p[i] = rng() % 3 ? y[i] : static_cast<int>(rng() % (k + 2)) - (seed % 5 == 0 ? 1 : 0);
    }
    cases.emplace_back(y, p);
    in["cases"].push_back({{"kind", "labels"}, {"labels", y}, {"preds", p}});
  }
  cases.push_back({{1, 1, 1}, {1, 1, 1}});  // one class, all right
  cases.push_back({{0, 0}, {1, 1}});        // one class, all wrong
  for (size_t i = cases.size() - 2; i < cases.size(); ++i)
    in["cases"].push_back({{"kind", "labels"}, {"labels", cases[i].first}, {"preds", cases[i].second}});
  const json out = test::run_oracle("sklearn_oracle.py", in);
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& o = out["results"][i];
    EXPECT_NEAR(*accuracy(cases[i].first, cases[i].second), o["accuracy"].get<double>(), 1e-12) << i;
    EXPECT_NEAR(*balanced_accuracy(cases[i].first, cases[i].second), o["balanced_accuracy"].get<double>(), 1e-12) << i;
    EXPECT_NEAR(*macro_f1(cases[i].first, cases[i].second), o["f1_macro"].get<double>(), 1e-12) << i;
  }
}

TEST(Classification, UndefinedValuesAreNulloptWithAReason) {
  std::string why;
  EXPECT_FALSE(binary_auroc({0, 0}, {0.1, 0.2}, &why));
  EXPECT_NE(why.find("one class"), std::string::npos);
  why.clear();
  EXPECT_FALSE(binary_auroc({0, 1}, {0.1, std::nan("")}, &why));
  EXPECT_NE(why.find("NaN"), std::string::npos);
  EXPECT_FALSE(accuracy({}, {}));
  EXPECT_FALSE(balanced_accuracy({}, {}));
  EXPECT_FALSE(macro_f1({}, {}));
  const auto ovr = ovr_auroc({0, 0, 1, 1}, {0.9, 0.05, 0.05, 0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.6, 0.3}, 3);
  EXPECT_TRUE(ovr.macro);  // class 2 never occurs: skipped, named in the reason
  EXPECT_FALSE(ovr.per_class[2]);
  EXPECT_NE(ovr.reason.find("skipped classes 2"), std::string::npos) << ovr.reason;
  EXPECT_THROW(binary_auroc({0, 2}, {0.1, 0.2}), Error);
  EXPECT_THROW(binary_auroc({0, 1}, {0.1}), Error);
}

TEST(Classification, ArgmaxTakesTheFirstMaximum) {
  EXPECT_EQ(argmax_rows({0.2, 0.5, 0.5, 0.9, 0.1, 0.0}, 3), (std::vector<int>{1, 0}));
}

}  // namespace
}  // namespace mvb::metrics
