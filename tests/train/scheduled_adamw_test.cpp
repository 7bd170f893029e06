// train::ScheduledAdamW, the diagnosis usages' optimiser: an update over a window of micro-batches
// (--gradient_accumulation_steps) against transformers' Trainer doing the same with torch.optim.AdamW in
// Trainer's decay / no-decay groups, get_scheduler and clip_grad_norm_
// (tests/oracles/train/accumulation_oracle.py), and the window's defining property: its gradients are
// those of the mean loss of its micro-batches.
#include "medvlmbench/train/scheduled_adamw.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

using Rows = std::vector<int64_t>;
using Window = std::vector<Rows>;

at::Tensor from_json(const nlohmann::json& j) {
  std::vector<float> flat;
  std::vector<int64_t> shape = {static_cast<int64_t>(j.size())};
  if (j.at(0).is_array()) {
    shape.push_back(static_cast<int64_t>(j.at(0).size()));
    for (const auto& row : j)
      for (const auto& v : row) flat.push_back(v.get<float>());
  } else {
    for (const auto& v : j) flat.push_back(v.get<float>());
  }
  return at::tensor(flat, at::kFloat).reshape(shape);
}

nlohmann::json to_json(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kDouble).contiguous();
  nlohmann::json j = nlohmann::json::array();
  if (c.dim() == 1) {
    for (int64_t i = 0; i < c.size(0); ++i) j.push_back(c[i].item<double>());
  } else {
    for (int64_t i = 0; i < c.size(0); ++i) j.push_back(to_json(c[i]));
  }
  return j;
}

struct Problem {
  at::Tensor W, b, X, Y;
};

Problem make_problem() {
  at::manual_seed(7);
  return {at::randn({2, 3}), at::randn({2}), at::randn({6, 3}), at::randn({6, 2})};
}

// Runs `windows` through ScheduledAdamW on a fresh copy of the problem's weights.
struct Trained {
  at::Tensor W, b;
  std::vector<double> losses;
};
Trained run_ours(const Problem& p, const std::vector<Window>& windows, const train::ScheduleOptions& o) {
  Trained r{p.W.clone().requires_grad_(true), p.b.clone().requires_grad_(true), {}};
  train::ScheduledAdamW opt(o, {{"head.weight", r.W}, {"head.bias", r.b}}, static_cast<int64_t>(windows.size()));
  for (const Window& w : windows) {
    std::vector<train::ScheduledAdamW::MicroBatchLoss> micro;
    for (const Rows& rows : w) {
      const at::Tensor idx = at::tensor(rows, at::kLong);
      micro.push_back([&p, &r, idx] {
        return at::mse_loss(at::linear(p.X.index_select(0, idx), r.W, r.b), p.Y.index_select(0, idx));
      });
    }
    r.losses.push_back(opt.step(micro));
  }
  EXPECT_TRUE(opt.done());
  return r;
}

train::ScheduleOptions options() {
  train::ScheduleOptions o;
  o.learning_rate = 0.05;
  o.weight_decay = 0.1;
  o.lr_scheduler_type = "linear";
  o.warmup_ratio = 0.0;
  return o;
}

TEST(ScheduledAdamW, AccumulationWindowsMatchTransformersTrainer) {
  MVB_REQUIRE_ORACLE_ENV();
  const Problem p = make_problem();
  // Three updates: two windows of two micro-batches, then the epoch's remainder window of one. Adam
  // hides a common scale of all gradients, not a scale that differs between updates: without the
  // division by the window's size, updates 1-2 would weigh twice update 3 in Adam's moments.
  const std::vector<Window> windows = {{{0, 1}, {2, 3}}, {{4, 5}, {1, 3}}, {{0, 2, 4}}};
  nlohmann::json windows_json = nlohmann::json::array();
  for (const Window& w : windows) windows_json.push_back(w);
  // Unclipped, and clipped (clip_grad_norm_ on the window's accumulated gradients).
  for (const double max_grad_norm : {0.0, 0.5}) {
    train::ScheduleOptions o = options();
    o.max_grad_norm = max_grad_norm;
    const nlohmann::json c = {{"W", to_json(p.W)},
                              {"b", to_json(p.b)},
                              {"X", to_json(p.X)},
                              {"Y", to_json(p.Y)},
                              {"windows", windows_json},
                              {"lr", o.learning_rate},
                              {"weight_decay", o.weight_decay},
                              {"scheduler", o.lr_scheduler_type},
                              {"warmup", 0},
                              {"max_grad_norm", o.max_grad_norm}};
    const auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/accumulation_oracle.py", {c.dump()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto hf = nlohmann::json::parse(r.out);
    const Trained ours = run_ours(p, windows, o);
    EXPECT_TRUE(at::allclose(ours.W, from_json(hf["W"]), 1e-5, 1e-6)) << "max_grad_norm " << max_grad_norm << "\n"
                                                                      << ours.W << "\n"
                                                                      << hf["W"].dump();
    EXPECT_TRUE(at::allclose(ours.b, from_json(hf["b"]), 1e-5, 1e-6)) << "max_grad_norm " << max_grad_norm << "\n"
                                                                      << ours.b << "\n"
                                                                      << hf["b"].dump();
    ASSERT_EQ(ours.losses.size(), hf["losses"].size());
    for (size_t i = 0; i < ours.losses.size(); ++i) EXPECT_NEAR(ours.losses[i], hf["losses"][i].get<double>(), 1e-6);
  }
}

TEST(ScheduledAdamW, AWindowIsOneUpdateOnTheMeanLossOfItsMicroBatches) {
  const Problem p = make_problem();
  train::ScheduleOptions o = options();
  o.max_grad_norm = 0;  // the two runs' gradients must agree before any clipping to compare updates
  // Equal-sized micro-batches: the mean of their mean-squared errors is the full batch's.
  const Trained split = run_ours(p, {{{0, 1, 2}, {3, 4, 5}}, {{5, 3, 1}, {0, 2, 4}}}, o);
  const Trained whole = run_ours(p, {{{0, 1, 2, 3, 4, 5}}, {{5, 3, 1, 0, 2, 4}}}, o);
  // The gradients an update leaves behind are the window's: equal to the whole batch's mean loss.
  EXPECT_TRUE(at::allclose(split.W.grad(), whole.W.grad(), 1e-6, 1e-7)) << split.W.grad() << "\n" << whole.W.grad();
  EXPECT_TRUE(at::allclose(split.b.grad(), whole.b.grad(), 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(split.W, whole.W, 1e-6, 1e-7)) << split.W << "\n" << whole.W;
  EXPECT_TRUE(at::allclose(split.b, whole.b, 1e-6, 1e-7));
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(split.losses[i], whole.losses[i], 1e-6);
  train::ScheduledAdamW opt(o, {{"head.weight", p.W.clone().requires_grad_(true)}}, 1);
  EXPECT_THROW(opt.step({}), Error);
}

}  // namespace
}  // namespace mvb::test
