// train::lr_factor against transformers' get_scheduler, the schedule every trainer here steps with
// (the generative trainers and the diagnosis lp / img-lora-lp / clip-img-lora usages): the same factor
// before each optimizer step for each --lr_scheduler_type the CLI accepts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/error.h"
#include "medvlmbench/train/optim.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

TEST(LrSchedule, EveryNameIsTransformersGetScheduler) {
  MVB_REQUIRE_ORACLE_ENV();
  struct Case {
    int64_t total, warmup;
  };
  // No warm-up, a short one, ceil(0.1 * 37) as --warmup_ratio 0.1 gives, and warm-up over every step.
  const std::vector<Case> cases = {{7, 0}, {10, 3}, {37, train::warmup_steps(37, 0.1)}, {5, 5}};
  const std::vector<std::string> names = {"linear", "cosine", "constant", "constant_with_warmup"};
  std::vector<std::string> args;
  for (const auto& n : names)
    for (const auto& c : cases) args.push_back(n + ":" + std::to_string(c.total) + ":" + std::to_string(c.warmup));
  const auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/lr_schedule_oracle.py", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto hf = nlohmann::json::parse(r.out);
  for (const auto& n : names)
    for (const auto& c : cases) {
      const std::string key = n + ":" + std::to_string(c.total) + ":" + std::to_string(c.warmup);
      const auto& expected = hf.at(key);
      ASSERT_EQ(expected.size(), static_cast<size_t>(c.total)) << key;
      for (int64_t step = 0; step < c.total; ++step)
        EXPECT_DOUBLE_EQ(train::lr_factor(n, step, c.total, c.warmup), expected[step].get<double>())
            << key << " step " << step << " (transformers " << hf["transformers"] << ")";
    }
}

TEST(LrSchedule, AnUnknownNameIsAnError) { EXPECT_THROW(train::lr_factor("cosine_with_restarts", 0, 10, 0), Error); }

}  // namespace
}  // namespace mvb::test
