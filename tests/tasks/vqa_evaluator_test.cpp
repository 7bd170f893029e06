// The VQA evaluator: the reference's meter names and values on hand-worked rows, standard variants,
// breakdowns, judge scores, error rows, CIs, results.csv, predictions.json, and `score` end to end.
#include <gtest/gtest.h>

#include <set>

#include "evaluator_test_support.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/tasks/pipeline.h"
#include "medvlmbench/tasks/usage.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

std::vector<json> sample_rows() {
  return {
      {{"id", "1"},
       {"image_path", "a.png"},
       {"question", "Where?"},
       {"prompt", "Q: Where?"},
       {"answer", "Left lung"},
       {"prediction", "The left lung."},
       {"question_type", "open"},
       {"modality", "CT"},
       {"judge", {{"score", "80"}}}},
      {{"id", "2"},
       {"image_path", "b.png"},
       {"answer", "heart"},
       {"prediction", "liver"},
       {"question_type", "open"},
       {"modality", "MRI"},
       {"judge", {{"score", 20}}}},
      {{"id", "3"},
       {"image_path", "c.png"},
       {"answer", "no"},
       {"prediction", "Not sure"},
       {"question_type", "yes/no"},
       {"modality", "CT"}},
      {{"id", "4"},
       {"image_path", "d.png"},
       {"answer", "yes"},
       {"prediction", "Yes."},
       {"question_type", "closed"},
       {"modality", "CT"}},
      {{"id", "5"},
       {"image_path", "e.png"},
       {"answer", "B"},
       {"prediction", "The answer is (b)"},
       {"question_type", "multi-choice"},
       {"choices", {{{"letter", "A"}, {"text", "x"}}, {{"letter", "B"}, {"text", "y"}}}}},
      {{"id", "6"}, {"image_path", "f.png"}, {"status", "failed"}, {"error", "CUDA out of memory"}},
  };
}

TEST(VqaEvaluator, ReferenceMeterNamesAndHandWorkedValues) {
  ScoreOptions opts;
  opts.bootstrap = 0;
  const ScoreResult r = test::score_rows("vqa", sample_rows(), opts);
  EXPECT_EQ(r.num_scored, 5);
  EXPECT_EQ(r.num_errors, 1);
  const json& m = r.metrics;
  for (const char* name : {"bleu1_open",
                           "bleu2_open",
                           "bleu3_open",
                           "bleu4_open",
                           "rouge1_open",
                           "rouge2_open",
                           "rougeL_open",
                           "exact_match_open",
                           "recall_open",
                           "precision_open",
                           "f1_score_open",
                           "accuracy_open",
                           "meteor_open",
                           "exact_match_closed",
                           "recall_closed",
                           "precision_closed",
                           "f1_score_closed",
                           "accuracy_closed",
                           "exact_match_mc",
                           "recall_mc",
                           "precision_mc",
                           "f1_score_mc",
                           "accuracy_mc",
                           "exact_match_overall",
                           "recall_overall",
                           "precision_overall",
                           "f1_overall",
                           "exact_match_strict_overall",
                           "accuracy_closed_strict",
                           "meteor_open_whole_string",
                           "gpt_score_open",
                           "gpt_score_overall"})
    EXPECT_TRUE(m.contains(name)) << name;
  EXPECT_FALSE(m.contains("bertscore_open")) << "absent until a BERT encoder exists, never zero";
  EXPECT_TRUE(test::notes_mention(r, "bertscore_open: absent"));
  // Open: "the left lung." vs "left lung" -> identical after normalisation; "liver" vs "heart" -> 0.
  EXPECT_DOUBLE_EQ(m["accuracy_open"], 0.5);
  EXPECT_DOUBLE_EQ(m["bleu1_open"], 0.5);
  EXPECT_DOUBLE_EQ(m["bleu2_open"], 0.5);
  EXPECT_DOUBLE_EQ(m["bleu3_open"], 0.0);  // a two-word answer has no trigram
  EXPECT_DOUBLE_EQ(m["rougeL_open"], 0.5);
  EXPECT_DOUBLE_EQ(m["f1_score_open"], 0.5);
  // Closed: "not sure" contains "no" (reference rule: 1), strict says 0; "yes." vs "yes": 1 and 1.
  EXPECT_DOUBLE_EQ(m["accuracy_closed"], 1.0);
  EXPECT_DOUBLE_EQ(m["accuracy_closed_strict"], 0.5);
  EXPECT_DOUBLE_EQ(m["accuracy_mc"], 1.0);
  // The judge: mean of 80 and 20 over the open questions.
  EXPECT_DOUBLE_EQ(m["gpt_score_open"], 50.0);
  EXPECT_DOUBLE_EQ(m["gpt_score_overall"], 50.0);
  // Per-modality breakdown of headline meters.
  EXPECT_DOUBLE_EQ(m["accuracy_open@CT"], 1.0);
  EXPECT_DOUBLE_EQ(m["accuracy_open@MRI"], 0.0);
  EXPECT_DOUBLE_EQ(m["accuracy_closed@CT"], 1.0);
  // The open METEOR is the word-level one; identical answers score 1 - 0.5 * (1/2)^3 = 0.9375 there.
  EXPECT_NEAR(m["meteor_open"].get<double>(), (0.9375 + 0.0) / 2, 1e-12);
  test::expect_finite(m);
  EXPECT_TRUE(r.ci95.empty()) << "bootstrap 0 disables the intervals";
  // results.csv: the reference's identity columns first, then its meters in logging order.
  ASSERT_GE(r.results_csv.size(), 8u);
  EXPECT_EQ(r.results_csv[0].first, "model");
  EXPECT_EQ(r.results_csv[2].second, "vqa");
  EXPECT_EQ(r.results_csv[6].first, "size");
  EXPECT_EQ(r.results_csv[7].first, "bleu1_open");
}

TEST(VqaEvaluator, BootstrapIntervalsBracketTheHeadlineMeters) {
  std::vector<json> rows;
  for (int i = 0; i < 60; ++i)
    rows.push_back({{"id", std::to_string(i)},
                    {"answer", i % 3 ? "yes" : "no"},
                    {"prediction", "yes"},
                    {"question_type", "closed"}});
  ScoreOptions opts;
  opts.bootstrap = 300;
  const ScoreResult r = test::score_rows("vqa", rows, opts);
  ASSERT_TRUE(r.ci95.contains("accuracy_closed"));
  const double acc = r.metrics["accuracy_closed"];
  EXPECT_NEAR(acc, 40.0 / 60, 1e-12);
  EXPECT_LE(r.ci95["accuracy_closed"][0].get<double>(), acc);
  EXPECT_GE(r.ci95["accuracy_closed"][1].get<double>(), acc);
  EXPECT_LT(r.ci95["accuracy_closed"][0].get<double>(), r.ci95["accuracy_closed"][1].get<double>());
  EXPECT_EQ(r.ci95, test::score_rows("vqa", rows, opts).ci95) << "seeded";
}

TEST(VqaEvaluator, BadRowsAreErrorsWithANoteAndNoRowsMeansNoMeters) {
  const ScoreResult r = test::score_rows("vqa", {{{"id", "1"}, {"answer", "x"}, {"prediction", "x"}}});
  EXPECT_EQ(r.num_errors, 1);
  EXPECT_TRUE(test::notes_mention(r, "question_type"));
  EXPECT_TRUE(r.metrics.empty());
  EXPECT_TRUE(test::notes_mention(r, "no scored rows"));
  // A malformed row (an object as prediction) is an error row with a note; a numeric answer is text.
  const ScoreResult bad =
      test::score_rows("vqa", {{{"id", "1"}, {"answer", 3}, {"prediction", "3"}, {"question_type", "open"}},
                               {{"id", "2"}, {"answer", "x"}, {"prediction", {{"k", 1}}}, {"question_type", "open"}}});
  EXPECT_EQ(bad.num_scored, 1);
  EXPECT_EQ(bad.num_errors, 1);
  EXPECT_DOUBLE_EQ(bad.metrics["accuracy_open"], 1.0);
  EXPECT_TRUE(test::notes_mention(bad, "malformed rows"));
  // A null prediction is scored as "" (the reference's None output).
  const ScoreResult n =
      test::score_rows("vqa", {{{"id", "1"}, {"answer", "x"}, {"prediction", nullptr}, {"question_type", "open"}}});
  EXPECT_EQ(n.num_scored, 1);
  EXPECT_DOUBLE_EQ(n.metrics["accuracy_open"], 0.0);
}

TEST(VqaEvaluator, ReferencePredictionsLayout) {
  const json p = task_registry().get("vqa").evaluator()->reference_predictions(sample_rows());
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0]["qs"], "Q: Where?");
  EXPECT_EQ(p[0]["question_type"], "open");
  EXPECT_EQ(p[0]["prediction"], "The left lung.");
  EXPECT_TRUE(p[0].contains("trace"));
  EXPECT_EQ(p[5]["status"], "failed");
  EXPECT_EQ(p[5]["prediction"], "");
}

// Defect 12 (issue 18): predictions.json as the dev reference writes it: question_type "yes/no" for
// closed questions, qs without the suffix an API model appends inside the call, "NA" for images
// embedded in parquet (failed rows too), every image of a multi-image question joined with ";".
TEST(VqaEvaluator, ReferencePredictionsMatchTheDevReference) {
  Sample parquet_sample;
  parquet_sample.id = "test/4";
  parquet_sample.question = "Is it normal?";
  parquet_sample.question_type = "closed";
  parquet_sample.images.push_back(ImageRef{"data/test-00000-of-00001.parquet#row=4", nullptr, nullptr});
  parquet_sample.metadata["reference_image_path"] = "NA";
  const std::string suffix = "\n\nPlease answer the question concisely in no more than 2 sentences.";
  const std::vector<json> rows = {
      {{"id", "test/0"},
       {"image_path", "data/test-00000-of-00001.parquet#row=0"},
       {"prompt", "What is shown?" + suffix},
       {"qs", "What is shown?"},
       {"answer", "a nodule"},
       {"prediction", "A nodule."},
       {"question_type", "open"},
       {"metadata", {{"reference_image_path", "NA"}}}},
      {{"id", "test/1"},
       {"image_path", "x.png"},
       {"prompt", "Answer the following question about the image with yes or no. Is it normal?"},
       {"answer", "no"},
       {"prediction", "No"},
       {"question_type", "closed"}},
      {{"id", "MM-3"},
       {"image_path", "images/MM-3-a.jpeg;images/MM-3-b.jpeg"},
       {"prompt", "Which?"},
       {"answer", "B"},
       {"prediction", "B"},
       {"question_type", "multi-choice"},
       {"metadata", {{"reference_image_path", "images/MM-3-a.jpeg;images/MM-3-b.jpeg"}}}},
      {{"id", "test/3"}, {"image_path", "y.png"}, {"status", "failed"}, {"error", "x"}, {"question_type", "closed"}},
      // A failed parquet row, as error_row writes it from the loader's sample.
      error_row(parquet_sample, "cannot decode the image")};
  const json p = task_registry().get("vqa").evaluator()->reference_predictions(rows);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0]["image_path"], "NA");
  EXPECT_EQ(p[0]["qs"], "What is shown?");
  EXPECT_EQ(p[1]["question_type"], "yes/no");
  EXPECT_EQ(p[1]["qs"], rows[1]["prompt"]);
  EXPECT_EQ(p[2]["image_path"], "images/MM-3-a.jpeg;images/MM-3-b.jpeg");
  EXPECT_EQ(p[2]["question_type"], "multi-choice");
  EXPECT_EQ(p[3]["question_type"], "yes/no");
  EXPECT_EQ(p[3]["image_path"], "y.png");
  EXPECT_EQ(p[4]["status"], "failed");
  EXPECT_EQ(p[4]["image_path"], "NA") << p[4].dump();  // not ...parquet#row=4
  EXPECT_EQ(p[4]["question"], "Is it normal?");
}

TEST(VqaEvaluator, ScoreRunDirWritesMetricsAndResultsCsv) {
  test::TempDir dir;
  test::write_text(
      dir / kManifestFile,
      json({{"config", {{"task", "vqa"}, {"dataset", "SLAKE"}, {"model", "LLaVA-1.5"}, {"seed", 0}}}}).dump());
  std::string lines;
  for (const auto& row : sample_rows()) lines += row.dump() + "\n";
  test::write_text(dir / kPredictionsFile, lines);
  const json m = score_run_dir(dir.path(), 50);
  EXPECT_EQ(m["num_scored"], 5);
  const json written = json::parse(test::read_text(dir / kMetricsFile));
  EXPECT_DOUBLE_EQ(written["metrics"]["accuracy_mc"], 1.0);
  EXPECT_TRUE(written["ci95"].contains("accuracy_open"));
  const std::string csv = test::read_text(dir / kResultsCsvFile);
  EXPECT_EQ(csv.rfind("model,model_name,task,dataset,model_type,modality,size,bleu1_open", 0), 0u) << csv;
}

}  // namespace
}  // namespace mvb
