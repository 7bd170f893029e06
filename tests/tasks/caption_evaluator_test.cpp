// The caption evaluator: the reference's meter names (with its `methor` key), hand-worked values.
#include <gtest/gtest.h>

#include "evaluator_test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

TEST(CaptionEvaluator, ReferenceMetersAndValues) {
  ScoreOptions opts;
  opts.bootstrap = 100;
  const std::vector<json> rows = {{{"id", "1"},
                                   {"answer", "No acute cardiopulmonary process."},
                                   {"prediction", "No acute cardiopulmonary process."}},
                                  {{"id", "2"}, {"answer", "Mild cardiomegaly."}, {"prediction", ""}},
                                  {{"id", "3"}, {"status", "failed"}, {"error", "timeout"}}};
  const ScoreResult r = test::score_rows("caption", rows, opts);
  EXPECT_EQ(r.num_scored, 2);
  EXPECT_EQ(r.num_errors, 1);
  const json& m = r.metrics;
  for (const char* name : {"bleu1", "bleu2", "bleu3", "bleu4", "rouge1_fmeasure", "rouge1_precision", "rouge1_recall",
                           "rouge2_fmeasure", "rouge2_precision", "rouge2_recall", "rougeL_fmeasure",
                           "rougeL_precision", "rougeL_recall", "meteor", "methor", "exact_match"})
    EXPECT_TRUE(m.contains(name)) << name;
  EXPECT_FALSE(m.contains("bertscore"));
  EXPECT_TRUE(test::notes_mention(r, "bertscore: absent"));
  // One identical caption (4 words) and one empty prediction.
  EXPECT_DOUBLE_EQ(m["bleu4"], 0.5);
  EXPECT_DOUBLE_EQ(m["rougeL_fmeasure"], 0.5);
  EXPECT_DOUBLE_EQ(m["exact_match"], 0.5);
  // METEOR of an identical 4-word caption: fmean 1, one chunk of 4 -> 1 - 0.5 * (1/4)^3.
  EXPECT_NEAR(m["meteor"].get<double>(), (1 - 0.5 / 64) / 2, 1e-12);
  EXPECT_EQ(m["meteor"], m["methor"]);
  EXPECT_TRUE(r.ci95.contains("bleu4"));
  test::expect_finite(m);
  EXPECT_EQ(r.results_csv[2].second, "caption");
  const json p = task_registry().get("caption").evaluator()->reference_predictions(rows);
  EXPECT_EQ(p[0]["prediciton"], "No acute cardiopulmonary process.");  // the reference's key (sic)
  EXPECT_EQ(p[0]["caption"], "No acute cardiopulmonary process.");
  // A failed sample is logged, not skipped: {image_path, prediction "", error, status}.
  EXPECT_EQ(p[2], json({{"image_path", ""}, {"prediction", ""}, {"error", "timeout"}, {"status", "failed"}}));
}

}  // namespace
}  // namespace mvb
