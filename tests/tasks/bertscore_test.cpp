// BERTScore (tasks/bertscore.h) against the real libraries, on the tiny random-weight BERT
// tests/fixtures/models/tiny-clinicalbert (Bio_ClinicalBERT's file layout, saved by transformers, 12
// layers, 40 positions). Everything expected was computed by
// tests/oracles/tasks/make_bertscore_fixtures.py and committed beside the checkpoint:
//  - bertscore_expected.json "tokens": per text, MedVLMBench's trim (transformers AutoTokenizer) and the
//    ids bert_score's own tokenizer and sent_encode() give;
//  - bertscore_expected.json "scores": P/R/F1 of `bert_score.score([cand], [ref], model_type=<folder>,
//    num_layers=12|5|0)` per pair (tolerance 1e-5);
//  - expected.safetensors: bert_score.utils.greedy_cos_idf on random embeddings (the matching alone);
//  - wiring: bertscore_open / bertscore in the evaluators and `score_run_dir`, absent with a note
//    when no model is configured.
// bertscore_minilm_test.cpp does the same with the real all-MiniLM-L6-v2 weights.
#include "medvlmbench/tasks/bertscore.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "bertscore_test_support.h"
#include "evaluator_test_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/tasks/pipeline.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;
constexpr double kTol = 1e-5;

std::string model_dir() { return test::fixture_path("models/tiny-clinicalbert"); }

const test::BertScoreExpected& expected() {
  static const test::BertScoreExpected e = test::read_bertscore_expected(model_dir());
  return e;
}

std::unique_ptr<bertscore::Scorer> load(int num_layers = 12, int batch_size = 64) {
  bertscore::Options o;
  o.model_dir = model_dir();
  o.device = "cpu";
  o.num_layers = num_layers;
  o.batch_size = batch_size;
  return bertscore::Scorer::load(o);
}

// bert_score's score() of one pair, as the generator saved it.
test::Prf library_score(const std::string& cand, const std::string& ref, int num_layers = 12) {
  const auto* s = expected().find(cand, ref, num_layers);
  if (!s) {
    ADD_FAILURE() << "no expected score for (\"" << cand << "\", \"" << ref << "\") at " << num_layers
                  << " layers: regenerate with tests/oracles/tasks/make_bertscore_fixtures.py";
    return {};
  }
  return *s;
}

TEST(BertScoreMatch, GreedyMatchingAgreesWithBertScore) {
  const auto ex = test::read_expected(model_dir());
  double worst = 0;
  int n = 0;
  for (;; ++n) {
    const std::string c = "case" + std::to_string(n);
    if (!ex.outputs.count(c)) break;
    const auto s = bertscore::greedy_match(ex.input(c + ".cand"), ex.input(c + ".cand_idf"), ex.input(c + ".ref"),
                                           ex.input(c + ".ref_idf"));
    const at::Tensor want = ex.output(c);
    const double got[3] = {s.precision, s.recall, s.f1};
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(got[k], want[k].item<double>(), kTol) << c << " component " << k;
      worst = std::max(worst, std::abs(got[k] - want[k].item<double>()));
    }
  }
  EXPECT_EQ(n, 60);
  std::printf("[measured] greedy_match vs bert_score.utils.greedy_cos_idf: max |diff| %.3g\n", worst);
}

TEST(BertScoreMatch, HandWorkedCases) {
  const at::Tensor e = at::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 0.5f, -2.0f}).view({4, 2});
  const at::Tensor idf = at::tensor({0.0f, 1.0f, 1.0f, 0.0f});
  auto same = bertscore::greedy_match(e, idf, e, idf);
  EXPECT_NEAR(same.f1, 1.0, 1e-6);
  // Candidate [CLS, x, SEP] with x = (1, 0): its best reference match is token 0 (cos 1); the
  // reference's tokens 1 and 2 best match x at cos 0 and cos(45 deg).
  const at::Tensor c = at::tensor({1.0f, 0.0f, 1.0f, 0.0f, 0.5f, -2.0f}).view({3, 2});
  auto s = bertscore::greedy_match(c, at::tensor({0.0f, 1.0f, 0.0f}), e, idf);
  EXPECT_NEAR(s.precision, 1.0, 1e-6);
  EXPECT_NEAR(s.recall, (0.0 + std::sqrt(0.5)) / 2, 1e-6);
  EXPECT_NEAR(s.f1, 2 * s.precision * s.recall / (s.precision + s.recall), 1e-6);
  // An empty side ([CLS] [SEP] only): everything 0, not NaN.
  const at::Tensor empty = e.slice(0, 0, 2);
  for (const auto& z : {bertscore::greedy_match(empty, at::zeros({2}), e, idf),
                        bertscore::greedy_match(e, idf, empty, at::zeros({2}))}) {
    EXPECT_EQ(z.precision, 0.0);
    EXPECT_EQ(z.recall, 0.0);
    EXPECT_EQ(z.f1, 0.0);
  }
}

TEST(BertScoreTokens, TrimAndReencodeMatchBertScoreTokenizer) {
  const auto scorer = load();
  ASSERT_GE(expected().tokens.size(), 60u);
  int truncated = 0;
  for (const auto& t : expected().tokens) {
    EXPECT_EQ(scorer->token_ids(t.text), t.ids)
        << "text: \"" << t.text << "\" (reference trimmed: \"" << t.trimmed << "\")";
    truncated += t.ids.size() == 40;
  }
  EXPECT_GE(truncated, 3) << "the corpus must exercise the trim to model_max_length - 2";
}

TEST(BertScoreParity, ScoresMatchBertScore) {
  std::vector<test::ScoredPair> ps;
  for (const auto& s : expected().scores)
    if (s.num_layers == 12) ps.push_back(s);
  ASSERT_GE(ps.size(), 200u);
  std::vector<std::string> cands, refs;
  for (const auto& p : ps) cands.push_back(p.cand), refs.push_back(p.ref);
  // A small batch size and chunk so that several forwards and chunks (with padding) are exercised.
  bertscore::Options o;
  o.model_dir = model_dir();
  o.device = "cpu";
  o.batch_size = 5;
  o.pairs_per_chunk = 17;
  const auto got = bertscore::Scorer::load(o)->score(cands, refs);
  ASSERT_EQ(got.size(), ps.size());
  double lo = 1, hi = 0, worst = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string what = "pair " + std::to_string(i) + ": \"" + ps[i].cand + "\" vs \"" + ps[i].ref + "\"";
    const double g[3] = {got[i].precision, got[i].recall, got[i].f1};
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(g[k], ps[i].prf[k], kTol) << what << " component " << k;
      worst = std::max(worst, std::abs(g[k] - ps[i].prf[k]));
    }
    if (!ps[i].cand.empty() && !ps[i].ref.empty() && ps[i].cand != ps[i].ref)
      lo = std::min(lo, got[i].f1), hi = std::max(hi, got[i].f1);
  }
  std::printf("[measured] %zu pairs vs bert_score.score: max |diff| %.3g\n", ps.size(), worst);
  EXPECT_GT(hi - lo, 0.2) << "the fixture's scores must spread out for the comparison to mean something";
  // Order and batching do not change a pair's score.
  const auto single = load(12, 1)->score({cands[1]}, {refs[1]});
  EXPECT_NEAR(single[0].f1, got[1].f1, kTol);
}

TEST(BertScoreParity, NumLayersPicksThatLayer) {
  const std::vector<std::pair<std::string, std::string>> ps = {
      {"left lung opacity", "right lung"}, {"benign tumor", "no finding"}, {"", "x"}};
  for (int layers : {0, 5}) {
    const auto got =
        load(layers)->score({ps[0].first, ps[1].first, ps[2].first}, {ps[0].second, ps[1].second, ps[2].second});
    for (size_t i = 0; i < ps.size(); ++i)
      EXPECT_NEAR(got[i].f1, library_score(ps[i].first, ps[i].second, layers)[2], kTol) << layers << " " << i;
  }
  // The layers really differ (else the check above could not tell them apart).
  EXPECT_GT(std::abs(library_score(ps[0].first, ps[0].second, 0)[2] - library_score(ps[0].first, ps[0].second, 5)[2]),
            1e-3);
}

TEST(BertScoreErrors, BadFoldersAndLayersAreClearErrors) {
  bertscore::Options o;
  o.model_dir = "/nonexistent/bert";
  try {
    bertscore::Scorer::load(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/bert"), std::string::npos) << e.what();
  }
  try {
    load(13);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_layers should be between 0 and 12"), std::string::npos) << e.what();
  }
  test::TempDir no_config;
  o.model_dir = no_config.path();
  EXPECT_THROW(bertscore::Scorer::load(o), Error);
  EXPECT_EQ(bertscore::resolve_model_dir("none"), "");
  EXPECT_EQ(bertscore::resolve_model_dir(model_dir()), model_dir());
  EXPECT_THROW(bertscore::resolve_model_dir("/nonexistent/bert"), Error);
}

// Open VQA rows whose texts normalize_word leaves unchanged, so the expected meter is bert_score's
// mean F1 over exactly these pairs.
std::vector<json> vqa_rows() {
  return {{{"id", "1"}, {"answer", "left lung"}, {"prediction", "left lung opacity"}, {"question_type", "open"}},
          {{"id", "2"}, {"answer", "heart"}, {"prediction", "benign tumor"}, {"question_type", "open"}},
          {{"id", "3"}, {"answer", "pneumonia"}, {"prediction", ""}, {"question_type", "open"}},
          {{"id", "4"}, {"answer", "no"}, {"prediction", "no finding"}, {"question_type", "closed"}},
          {{"id", "5"}, {"status", "failed"}, {"error", "boom"}}};
}

double expected_open_mean() {
  return (library_score("left lung opacity", "left lung")[2] + library_score("benign tumor", "heart")[2] +
          library_score("", "pneumonia")[2]) /
         3;
}

TEST(BertScoreEvaluators, VqaBertscoreOpenWithAndWithoutModel) {
  ScoreOptions opts;
  opts.bootstrap = 20;
  opts.device = "cpu";
  const ScoreResult none = test::score_rows("vqa", vqa_rows(), opts);
  EXPECT_FALSE(none.metrics.contains("bertscore_open")) << "absent without a model, never 0";
  EXPECT_TRUE(test::notes_mention(none, "bertscore_open: absent"));

  opts.bertscore_model = model_dir();
  const ScoreResult r = test::score_rows("vqa", vqa_rows(), opts);
  ASSERT_TRUE(r.metrics.contains("bertscore_open")) << r.notes.dump();
  const double want = expected_open_mean();
  ASSERT_GE(want, 0);
  EXPECT_NEAR(r.metrics["bertscore_open"].get<double>(), want, kTol);
  EXPECT_FALSE(r.metrics.contains("bertscore_closed"));
  EXPECT_TRUE(r.ci95.contains("bertscore_open"));
  EXPECT_TRUE(test::notes_mention(r, "bertscore_open: BERTScore F1"));
  bool in_csv = false;
  for (const auto& [k, v] : r.results_csv) in_csv |= k == "bertscore_open";
  EXPECT_TRUE(in_csv);
  test::expect_finite(r.metrics);
}

TEST(BertScoreEvaluators, CaptionBertscoreWithAndWithoutModel) {
  std::vector<json> rows = {{{"id", "1"}, {"answer", "left lung"}, {"prediction", "left lung opacity"}},
                            {{"id", "2"}, {"answer", "heart"}, {"prediction", "benign tumor"}},
                            {{"id", "3"}, {"answer", "pneumonia"}, {"prediction", ""}}};
  ScoreOptions opts;
  opts.bootstrap = 0;
  opts.device = "cpu";
  const ScoreResult none = test::score_rows("caption", rows, opts);
  EXPECT_FALSE(none.metrics.contains("bertscore"));
  EXPECT_TRUE(test::notes_mention(none, "bertscore: absent"));
  opts.bertscore_model = model_dir();
  const ScoreResult r = test::score_rows("caption", rows, opts);
  ASSERT_TRUE(r.metrics.contains("bertscore")) << r.notes.dump();
  EXPECT_NEAR(r.metrics["bertscore"].get<double>(), expected_open_mean(), kTol);
  EXPECT_EQ(r.results_csv.back().first, "bertscore");
}

TEST(BertScoreEvaluators, ScoreRunDirUsesFlagOrRunJson) {
  test::TempDir dir;
  auto write_run = [&](const json& extra) {
    json cfg = {{"task", "vqa"}, {"dataset", "SLAKE"}, {"model", "LLaVA-1.5"}, {"seed", 0}};
    cfg.update(extra);
    test::write_text(dir / kManifestFile, json({{"config", cfg}}).dump());
  };
  std::string lines;
  for (const auto& row : vqa_rows()) lines += row.dump() + "\n";
  test::write_text(dir / kPredictionsFile, lines);
  const double want = expected_open_mean();

  write_run(json::object());
  json m = score_run_dir(dir.path(), 0, model_dir(), "cpu");
  EXPECT_NEAR(json::parse(test::read_text(dir / kMetricsFile))["metrics"]["bertscore_open"].get<double>(), want, kTol);
  EXPECT_NE(test::read_text(dir / kResultsCsvFile).find("bertscore_open"), std::string::npos);

  m = score_run_dir(dir.path(), 0, "none", "cpu");
  EXPECT_FALSE(m["metrics"].contains("bertscore_open"));

  write_run({{"bertscore_model", model_dir()}});  // what `eval --bertscore_model` records
  m = score_run_dir(dir.path(), 0, "", "cpu");
  EXPECT_NEAR(m["metrics"]["bertscore_open"].get<double>(), want, kTol);
}

}  // namespace
}  // namespace mvb
