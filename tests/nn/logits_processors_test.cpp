// Our logits processors against transformers' on fixed scores (tests/fixtures/nn/logits-processors,
// made by tests/oracles/nn/make_logits_processor_fixtures.py): each processor class on its own, and
// the processor lists generate() builds for several generation configs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/generation.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::nn {
namespace {

const std::string kDir = "nn/logits-processors";

// Largest difference over the entries both keep; +inf when they filter (-inf) different entries.
double filtered_diff(const at::Tensor& ours, const at::Tensor& theirs) {
  if (!ours.defined() || !theirs.defined() || ours.sizes() != theirs.sizes())
    return std::numeric_limits<double>::infinity();
  at::Tensor a_inf = at::isinf(ours), b_inf = at::isinf(theirs);
  if (!at::equal(a_inf, b_inf) || !at::equal(ours.masked_select(a_inf), theirs.masked_select(b_inf)))
    return std::numeric_limits<double>::infinity();
  at::Tensor keep = at::logical_not(a_inf);
  if (keep.sum().item<int64_t>() == 0) return 0.0;
  return (ours.masked_select(keep) - theirs.masked_select(keep)).abs().max().item<double>();
}

// transformers' left-padded input_ids as our previous ids: padding -> -1.
at::Tensor previous_ids(const test::ExpectedOutputs& e) {
  at::Tensor ids = e.input("input_ids").clone();
  at::Tensor pads = e.input("pad_lengths");
  for (int64_t b = 0; b < ids.size(0); ++b) ids[b].narrow(0, 0, pads[b].item<int64_t>()).fill_(-1);
  return ids;
}

TEST(LogitsProcessors, EachEqualsTransformers) {
  const auto e = test::read_expected(test::fixture_path(kDir));
  const auto fixture = io::read_json(test::fixture_path(kDir + "/fixture.json"));
  const at::Tensor prev = previous_ids(e);
  double worst = 0;
  int checked = 0;
  for (const auto& c : fixture.at("cases")) {
    if (!c.contains("processor")) continue;
    const std::string name = c.at("name"), cls = c.at("processor");
    const auto& args = c.at("args");
    const at::Tensor scores = e.input(c.at("scores").get<std::string>());
    const int64_t keep = args.value("min_tokens_to_keep", 1);
    at::Tensor ours;
    if (cls == "RepetitionPenaltyLogitsProcessor") {
      ours = apply_repetition_penalty(scores, prev, args.at("penalty").get<double>());
    } else if (cls == "TemperatureLogitsWarper") {
      ours = apply_temperature(scores, args.at("temperature").get<double>());
    } else if (cls == "TopKLogitsWarper") {
      ours = apply_top_k(scores, args.at("top_k").get<int64_t>(), keep);
    } else if (cls == "TopPLogitsWarper") {
      ours = apply_top_p(scores, args.at("top_p").get<double>(), keep);
    } else {
      FAIL() << "unknown processor " << cls << " in the fixture";
    }
    const double d = filtered_diff(ours, e.output(name));
    EXPECT_LE(d, 1e-6) << name;
    worst = std::max(worst, d);
    ++checked;
  }
  EXPECT_EQ(checked, 18);
  std::cout << "max diff over " << checked << " single processors: " << worst << "\n";
}

TEST(LogitsProcessors, GenerateCombinationsEqualTransformers) {
  const auto e = test::read_expected(test::fixture_path(kDir));
  const auto fixture = io::read_json(test::fixture_path(kDir + "/fixture.json"));
  const at::Tensor prev = previous_ids(e);
  double worst = 0;
  int checked = 0;
  for (const auto& c : fixture.at("cases")) {
    if (!c.contains("generation_config")) continue;
    const std::string name = c.at("name");
    const GenerationConfig cfg = GenerationConfig::from_json(c.at("generation_config"), name);
    const double d = filtered_diff(process_logits(e.input("scores"), prev, cfg), e.output(name));
    EXPECT_LE(d, 1e-6) << name;
    worst = std::max(worst, d);
    ++checked;
  }
  EXPECT_EQ(checked, 7);
  std::cout << "max diff over " << checked << " generate() processor lists: " << worst << "\n";
}

TEST(LogitsProcessors, FilterSemantics) {
  // Hand-checked properties the fixture relies on: ties with the k-th score survive top-k, top-p keeps
  // at least min_tokens_to_keep, penalty divides positives and multiplies negatives, -1 is ignored.
  at::Tensor s = at::tensor({1.f, 3.f, 3.f, -2.f}).view({1, 4});
  at::Tensor k = apply_top_k(s, 1);
  EXPECT_TRUE(at::equal(at::isinf(k), at::tensor({1, 0, 0, 1}).to(at::kBool).view({1, 4})));
  at::Tensor p = apply_top_p(s, 0.0, 3);
  EXPECT_EQ(at::isinf(p).sum().item<int64_t>(), 1);
  at::Tensor r = apply_repetition_penalty(s, at::tensor({-1, 1, 3, 3}, at::kLong).view({1, 4}), 2.0);
  EXPECT_TRUE(at::equal(r, at::tensor({1.f, 1.5f, 3.f, -4.f}).view({1, 4})));
  EXPECT_THROW(apply_temperature(s, 0.0), std::exception);
  EXPECT_THROW(apply_top_k(s, 0), std::exception);
}

}  // namespace
}  // namespace mvb::nn
