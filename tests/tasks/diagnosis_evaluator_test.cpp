// The diagnosis evaluator: binary (the reference's AUROC), multi-class one-vs-rest and multi-label
// AUROC, balanced accuracy, macro F1, ROC points, CIs, and undefined values as null + note.
#include <gtest/gtest.h>

#include "evaluator_test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

json row(int label, std::vector<double> scores) { return {{"id", "x"}, {"label", {label}}, {"scores", scores}}; }

TEST(DiagnosisEvaluator, BinaryMetersMatchHandWorkedValues) {
  // Class-1 probabilities 0.9 (pos), 0.6 (neg), 0.4 (pos), 0.2 (neg): 3 of 4 pairs ordered -> AUROC 0.75.
  const std::vector<json> rows = {row(1, {0.1, 0.9}),
                                  row(0, {0.4, 0.6}),
                                  row(1, {0.6, 0.4}),
                                  row(0, {0.8, 0.2}),
                                  {{"id", "e"}, {"status", "failed"}, {"error", "unreadable image"}}};
  ScoreOptions opts;
  opts.bootstrap = 200;
  const ScoreResult r = test::score_rows("diagnosis", rows, opts);
  EXPECT_EQ(r.num_scored, 4);
  EXPECT_EQ(r.num_errors, 1);
  EXPECT_DOUBLE_EQ(r.metrics["auc"], 0.75);
  EXPECT_DOUBLE_EQ(r.metrics["accuracy"], 0.5);           // argmax: 1, 1, 0, 0
  EXPECT_DOUBLE_EQ(r.metrics["balanced_accuracy"], 0.5);  // recall 0.5 for both classes
  EXPECT_DOUBLE_EQ(r.metrics["f1_macro"], 0.5);
  ASSERT_TRUE(r.metrics.contains("roc_curve"));
  EXPECT_EQ(r.metrics["roc_curve"]["fpr"].front(), 0.0);
  EXPECT_EQ(r.metrics["roc_curve"]["tpr"].back(), 1.0);
  EXPECT_TRUE(r.ci95.contains("auc"));
  EXPECT_TRUE(r.ci95.contains("accuracy"));
  test::expect_finite(r.metrics);
  EXPECT_EQ(r.results_csv[0].second, "binary-class");
  EXPECT_EQ(r.results_csv.back().first, "auc");
}

TEST(DiagnosisEvaluator, OneClassPresentGivesNullAucWithANote) {
  const ScoreResult r = test::score_rows("diagnosis", {row(1, {0.2, 0.8}), row(1, {0.7, 0.3})});
  EXPECT_TRUE(r.metrics["auc"].is_null());
  EXPECT_TRUE(test::notes_mention(r, "auc: null; only one class present"));
  EXPECT_DOUBLE_EQ(r.metrics["accuracy"], 0.5);
  test::expect_finite(r.metrics);
  const ScoreResult empty = test::score_rows("diagnosis", {});
  EXPECT_TRUE(empty.metrics["accuracy"].is_null());
  EXPECT_TRUE(empty.metrics["auc"].is_null());
}

TEST(DiagnosisEvaluator, MultiClassUsesOneVsRestWhereTheReferenceCrashes) {
  std::vector<json> rows;
  // Three classes, each perfectly ranked by its own column except one swap in class 2.
  rows.push_back(row(0, {0.8, 0.1, 0.1}));
  rows.push_back(row(0, {0.6, 0.3, 0.1}));
  rows.push_back(row(1, {0.2, 0.7, 0.1}));
  rows.push_back(row(1, {0.1, 0.8, 0.1}));
  rows.push_back(row(2, {0.1, 0.1, 0.8}));
  rows.push_back(row(2, {0.3, 0.5, 0.2}));  // predicted class 1; its class-2 score still ranks above the 0.1s
  ScoreOptions opts;
  opts.class_texts = {"akiec", "bcc", "bkl"};
  opts.bootstrap = 100;
  const ScoreResult r = test::score_rows("diagnosis", rows, opts);
  // Class 0: positives 0.8, 0.6 vs negatives 0.2, 0.1, 0.1, 0.3 -> 1. Class 1: positives 0.7, 0.8 vs
  // 0.1, 0.3, 0.1, 0.5 -> 1. Class 2: positives 0.8, 0.2 vs four 0.1 -> 1.
  EXPECT_DOUBLE_EQ(r.metrics["auc"], 1.0);
  EXPECT_DOUBLE_EQ(r.metrics["auc_macro_ovr"], 1.0);
  EXPECT_DOUBLE_EQ(r.metrics["auc_weighted_ovr"], 1.0);
  EXPECT_TRUE(r.metrics.contains("auc_class/bcc"));
  EXPECT_NEAR(r.metrics["accuracy"].get<double>(), 5.0 / 6, 1e-12);  // the last row is predicted class 1
  EXPECT_NEAR(r.metrics["balanced_accuracy"].get<double>(), (1 + 1 + 0.5) / 3, 1e-12);
  EXPECT_EQ(r.results_csv[0].second, "multi-class");
  EXPECT_TRUE(test::notes_mention(r, "one-vs-rest"));
  EXPECT_TRUE(r.ci95.contains("auc"));
}

TEST(DiagnosisEvaluator, MultiLabelPerLabelAndMacroAuroc) {
  ScoreOptions opts;
  opts.multi_label = true;
  opts.class_texts = {"Effusion", "Edema"};
  const std::vector<json> rows = {
      {{"id", "1"}, {"label", {1, 0}}, {"scores", {0.9, 0.2}}},
      {{"id", "2"}, {"label", {0, 1}}, {"scores", {0.3, 0.7}}},
      {{"id", "3"}, {"label", {1, 0}}, {"scores", {0.4, 0.6}}},
      {{"id", "4"}, {"label", {0, 0}}, {"scores", {0.5, 0.1}}},
  };
  const ScoreResult r = test::score_rows("diagnosis", rows, opts);
  // Effusion: positives 0.9, 0.4 vs negatives 0.3, 0.5 -> pairs (0.9>0.3, 0.9>0.5, 0.4>0.3) = 3/4.
  EXPECT_DOUBLE_EQ(r.metrics["auc_label/Effusion"], 0.75);
  // Edema: positive 0.7 vs 0.2, 0.6, 0.1 -> 1.
  EXPECT_DOUBLE_EQ(r.metrics["auc_label/Edema"], 1.0);
  EXPECT_DOUBLE_EQ(r.metrics["auc"], 0.875);
  // Thresholded at 0.5: row 3 gets (0, 1) (both labels wrong) and row 4 gets (1, 0) (one wrong):
  // 2 of 4 rows exactly right; per-label accuracy (1 + 1 + 0 + 0.5) / 4.
  EXPECT_DOUBLE_EQ(r.metrics["accuracy"], 0.5);
  EXPECT_DOUBLE_EQ(r.metrics["label_accuracy"], 0.625);
  EXPECT_EQ(r.results_csv[0].second, "multi-label");
  test::expect_finite(r.metrics);
}

TEST(DiagnosisEvaluator, InconsistentRowsAreRejectedWithAClearMessage) {
  EXPECT_THROW(test::score_rows("diagnosis", {row(0, {0.5, 0.5}), row(1, {0.2, 0.3, 0.5})}), Error);
}

}  // namespace
}  // namespace mvb
