// BERTScore (tasks/bertscore.h) against oracles we did not write, on the tiny random-weight BERT
// tests/fixtures/models/tiny-clinicalbert (Bio_ClinicalBERT's file layout, 12 layers, 40 positions):
//  - ids: the npm `tokenizers` library replaying the reference's trim/decode/re-encode chain
//    (bertscore_tokens_oracle.js);
//  - scores: scripts/reference/bertscore_reference.py, a PROVISIONAL python3-torch line-by-line port of
//    bert_score 0.3.13 + transformers' BertModel, fed with the oracle's ids; tolerance 1e-5;
//  - wiring: bertscore_open / bertscore in the evaluators and `score_run_dir`, absent with a note
//    when no model is configured.
#include "medvlmbench/tasks/bertscore.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "evaluator_test_support.h"
#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/tasks/pipeline.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;
constexpr double kTol = 1e-5;

std::string model_dir() { return test::fixture_path("models/tiny-clinicalbert"); }

// Sentences over the fixture vocabulary and beyond it: empty, whitespace, words split into pieces,
// [UNK] words (CJK, emoji), accents, punctuation, and texts longer than the 38-piece trim.
std::vector<std::string> corpus() {
  std::vector<std::string> s = {"",
                                "   ",
                                "\t\n",
                                "left lung opacity",
                                "left lung opacity",
                                "Left Lung Opacity.",
                                "right heart",
                                "no finding",
                                "pneumonia",
                                "i do not know , really",
                                "don't",
                                "x-ray of the chest with effusion",
                                "effusional tumors",
                                "Café déjà vu",
                                "肺 opacity",
                                "😀",
                                "😀 left",
                                "a?b!c,d",
                                "xyzzy qwerty zz9",
                                "[SEP] [CLS] lung",
                                "normal retina normal retina normal retina normal retina normal retina normal retina "
                                "normal retina normal retina normal retina normal retina normal retina normal retina "
                                "normal retina normal retina normal retina normal retina normal retina normal retina "
                                "normal retina normal retina normal retina",
                                "q w e r t y u i o p a s d f g h j k l z x c v b n m q w e r t y u i o p a s d f "
                                "do not do not",
                                "one two three four five six seven eight nine ten eleven twelve",
                                "the quick brown fox jumps over the lazy dog and keeps running until the end of "
                                "the long long road",
                                "benign tumor with no finding of glaucoma in the fundus photo of the diseased retina "
                                "that is negative"};
  // Seeded random word salads over the vocabulary words and out-of-vocabulary words.
  const std::vector<std::string> words = {"lung", "left", "heart", "opacity",  "tumor", "benign",   "xray", "no",
                                          "is",   "the",  "size",  "glaucoma", "zebra", "qq",       "é",    "-",
                                          ".",    "ray",  "do",    "not",      "chest", "effusion", "中",   "ok"};
  std::mt19937 rng(7);
  for (int i = 0; i < 40; ++i) {
    std::string t;
    const int n = static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) t += (k ? " " : "") + words[rng() % words.size()];
    s.push_back(t);
  }
  return s;
}

// (candidate, reference) pairs: identical, each against the next, every one against the empty text.
std::vector<std::pair<std::string, std::string>> pairs() {
  const auto c = corpus();
  std::vector<std::pair<std::string, std::string>> p;
  for (size_t i = 0; i < c.size(); ++i) {
    p.emplace_back(c[i], c[i]);
    p.emplace_back(c[i], c[(i + 1) % c.size()]);
    p.emplace_back(c[(i + 7) % c.size()], c[i]);
  }
  p.emplace_back("", "left lung");
  p.emplace_back("left lung", "");
  p.emplace_back("", "");
  return p;
}

json tokens_oracle(const std::vector<std::string>& texts, int limit) {
  const std::string node = MVB_NODE;
  if (node.empty()) {
    ADD_FAILURE() << "node is not installed (MVB_NODE empty): the tokenizers oracle cannot run; run scripts/setup.sh";
    return json();
  }
  test::TempDir dir;
  test::write_text(
      dir / "req.json",
      json({{"vocab", model_dir() + "/vocab.txt"}, {"lowercase", true}, {"limit", limit}, {"texts", texts}}).dump());
  const auto r =
      test::run_command({node, test::source_dir() + "/tests/oracles/tasks/bertscore_tokens_oracle.js", dir / "req.json"});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "tokenizers oracle failed (exit " << r.exit_code << "): " << r.err;
    return json();
  }
  return json::parse(r.out)["results"];
}

// Runs scripts/reference/bertscore_reference.py; fails the test when python3 is missing.
json reference(const std::vector<std::string>& args, const json& request) {
  const std::string py = test::system_python();
  if (py.empty()) {
    ADD_FAILURE() << "/usr/bin/python3 (python3-torch) is missing: the BERTScore reference cannot run";
    return json();
  }
  test::TempDir dir;
  test::write_text(dir / "req.json", request.dump());
  std::vector<std::string> argv = {py, test::source_dir() + "/tests/oracles/tasks/bertscore_reference.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(dir / "req.json");
  argv.push_back(dir / "out.json");
  const auto r = test::run_command(argv);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "bertscore_reference.py failed (exit " << r.exit_code << "): " << r.err;
    return json();
  }
  return json::parse(test::read_text(dir / "out.json"))["scores"];
}

// The python port's scores for `ps`, with ids from the tokenizers oracle.
json reference_scores(const std::vector<std::pair<std::string, std::string>>& ps, int num_layers = 12) {
  std::set<std::string> uniq;
  for (const auto& [c, r] : ps) uniq.insert(c), uniq.insert(r);
  const std::vector<std::string> texts(uniq.begin(), uniq.end());
  const json tok = tokens_oracle(texts, 40);
  if (tok.is_null()) return json();
  json ids = json::object(), jp = json::array();
  for (size_t i = 0; i < texts.size(); ++i) ids[texts[i]] = tok[i]["ids"];
  for (const auto& [c, r] : ps) jp.push_back({c, r});
  return reference({"score", model_dir()}, {{"num_layers", num_layers}, {"pairs", jp}, {"ids", ids}});
}

std::unique_ptr<bertscore::Scorer> load(int num_layers = 12, int batch_size = 64) {
  bertscore::Options o;
  o.model_dir = model_dir();
  o.device = "cpu";
  o.num_layers = num_layers;
  o.batch_size = batch_size;
  return bertscore::Scorer::load(o);
}

TEST(BertScoreMatch, GreedyMatchingAgreesWithBertScorePort) {
  // Random embeddings (negative similarities included), idf patterns with [CLS]/[SEP] zeros, empty
  // sides (2 tokens), single tokens, identical sides.
  at::manual_seed(11);
  std::mt19937 rng(3);
  json cases = json::array();
  std::vector<std::array<at::Tensor, 4>> ours;
  auto to_json = [](const at::Tensor& t) {
    json j = json::array();
    const at::Tensor c = t.contiguous();
    if (c.dim() == 1) {
      for (int64_t i = 0; i < c.size(0); ++i) j.push_back(c[i].item<float>());
    } else {
      for (int64_t i = 0; i < c.size(0); ++i) {
        json row = json::array();
        for (int64_t k = 0; k < c.size(1); ++k) row.push_back(c[i][k].item<float>());
        j.push_back(row);
      }
    }
    return j;
  };
  for (int i = 0; i < 60; ++i) {
    const int64_t d = 1 + static_cast<int64_t>(rng() % 12);
    const int64_t lc = i % 10 == 0 ? 2 : 3 + static_cast<int64_t>(rng() % 12);
    const int64_t lr = i % 10 == 5 ? 2 : 3 + static_cast<int64_t>(rng() % 12);
    at::Tensor c = at::randn({lc, d}) * (1 + i % 3);
    at::Tensor r = i % 7 == 3 && lc == lr ? c.clone() : at::randn({lr, d});
    auto idf = [&](int64_t n) {
      at::Tensor w = i % 4 == 0 ? at::rand({n}) : at::ones({n});
      w[0] = 0;
      w[n - 1] = 0;
      return w;
    };
    at::Tensor ci = idf(lc), ri = idf(lr);
    ours.push_back({c, ci, r, ri});
    cases.push_back({{"cand", to_json(c)}, {"ref", to_json(r)}, {"cand_idf", to_json(ci)}, {"ref_idf", to_json(ri)}});
  }
  const json ref = reference({"match"}, {{"cases", cases}});
  ASSERT_FALSE(ref.is_null());
  ASSERT_EQ(ref.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto s = bertscore::greedy_match(ours[i][0], ours[i][1], ours[i][2], ours[i][3]);
    EXPECT_NEAR(s.precision, ref[i][0].get<double>(), kTol) << "case " << i;
    EXPECT_NEAR(s.recall, ref[i][1].get<double>(), kTol) << "case " << i;
    EXPECT_NEAR(s.f1, ref[i][2].get<double>(), kTol) << "case " << i;
  }
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

TEST(BertScoreTokens, TrimAndReencodeMatchTokenizersOracle) {
  const auto scorer = load();
  const auto texts = corpus();
  const json oracle = tokens_oracle(texts, 40);
  ASSERT_FALSE(oracle.is_null());
  int truncated = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = scorer->token_ids(texts[i]);
    EXPECT_EQ(json(ids), oracle[i]["ids"])
        << "text: \"" << texts[i] << "\" (oracle trimmed: \"" << oracle[i]["trimmed"].get<std::string>() << "\")";
    truncated += ids.size() == 40;
  }
  EXPECT_GE(truncated, 3) << "the corpus must exercise the trim to model_max_length - 2";
}

TEST(BertScoreParity, ScoresMatchBertScorePort) {
  const auto ps = pairs();
  const json ref = reference_scores(ps);
  ASSERT_FALSE(ref.is_null());
  ASSERT_EQ(ref.size(), ps.size());
  std::vector<std::string> cands, refs;
  for (const auto& [c, r] : ps) cands.push_back(c), refs.push_back(r);
  // A small batch size and chunk so that several forwards and chunks (with padding) are exercised.
  bertscore::Options o;
  o.model_dir = model_dir();
  o.device = "cpu";
  o.batch_size = 5;
  o.pairs_per_chunk = 17;
  const auto got = bertscore::Scorer::load(o)->score(cands, refs);
  ASSERT_EQ(got.size(), ps.size());
  double lo = 1, hi = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string what = "pair " + std::to_string(i) + ": \"" + ps[i].first + "\" vs \"" + ps[i].second + "\"";
    EXPECT_NEAR(got[i].precision, ref[i][0].get<double>(), kTol) << what;
    EXPECT_NEAR(got[i].recall, ref[i][1].get<double>(), kTol) << what;
    EXPECT_NEAR(got[i].f1, ref[i][2].get<double>(), kTol) << what;
    if (!ps[i].first.empty() && !ps[i].second.empty() && ps[i].first != ps[i].second)
      lo = std::min(lo, got[i].f1), hi = std::max(hi, got[i].f1);
  }
  EXPECT_GT(hi - lo, 0.2) << "the fixture's scores must spread out for the comparison to mean something";
  // Order and batching do not change a pair's score.
  const auto single = load(12, 1)->score({cands[1]}, {refs[1]});
  EXPECT_NEAR(single[0].f1, got[1].f1, kTol);
}

TEST(BertScoreParity, NumLayersPicksThatLayer) {
  const std::vector<std::pair<std::string, std::string>> ps = {
      {"left lung opacity", "right lung"}, {"benign tumor", "no finding"}, {"", "x"}};
  for (int layers : {0, 5}) {
    const json ref = reference_scores(ps, layers);
    ASSERT_FALSE(ref.is_null());
    const auto got =
        load(layers)->score({ps[0].first, ps[1].first, ps[2].first}, {ps[0].second, ps[1].second, ps[2].second});
    for (size_t i = 0; i < ps.size(); ++i) EXPECT_NEAR(got[i].f1, ref[i][2].get<double>(), kTol) << layers << " " << i;
  }
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

// Open VQA rows whose texts normalize_word leaves unchanged, so the expected meter is the python
// port's mean F1 over exactly these pairs.
std::vector<json> vqa_rows() {
  return {{{"id", "1"}, {"answer", "left lung"}, {"prediction", "left lung opacity"}, {"question_type", "open"}},
          {{"id", "2"}, {"answer", "heart"}, {"prediction", "benign tumor"}, {"question_type", "open"}},
          {{"id", "3"}, {"answer", "pneumonia"}, {"prediction", ""}, {"question_type", "open"}},
          {{"id", "4"}, {"answer", "no"}, {"prediction", "no finding"}, {"question_type", "closed"}},
          {{"id", "5"}, {"status", "failed"}, {"error", "boom"}}};
}

double expected_open_mean() {
  const json ref = reference_scores({{"left lung opacity", "left lung"}, {"benign tumor", "heart"}, {"", "pneumonia"}});
  if (ref.is_null()) return -1;
  return (ref[0][2].get<double>() + ref[1][2].get<double>() + ref[2][2].get<double>()) / 3;
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
