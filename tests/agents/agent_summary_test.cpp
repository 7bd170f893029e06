// metrics.json's "agent" block from rows: rates over the samples where they are defined, failed rows
// counted, unknown costs make the per-sample cost null, no agent rows -> null.
#include "medvlmbench/tasks/agent_summary.h"

#include <gtest/gtest.h>

namespace mvb {
namespace {

using json = nlohmann::json;

json uc_row(int calls, bool fallback, json agreement, json verified, int level, json cost, bool failed = false) {
  json row = {{"id", "x"},
              {"agent",
               {{"name", "ucagent"},
                {"calls", calls},
                {"unused_calls", 0},
                {"level", level},
                {"fallback", fallback},
                {"agreement", agreement},
                {"verified", verified},
                {"prompt_tokens", 100 * calls},
                {"completion_tokens", 10 * calls},
                {"cost_usd", cost}}}};
  if (failed) row["status"] = "failed";
  return row;
}

TEST(AgentSummary, RatesCountsTokensAndCost) {
  EXPECT_TRUE(agent_summary({json{{"id", "a"}, {"prediction", "x"}}}).is_null());
  const std::vector<json> rows = {uc_row(3, false, true, true, 2, 0.01), uc_row(8, false, false, nullptr, 3, 0.03),
                                  uc_row(3, true, nullptr, nullptr, 1, 0.02),
                                  uc_row(4, true, true, false, 3, 0.0, true)};
  const json s = agent_summary(rows);
  EXPECT_EQ(s["samples"], 4);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_DOUBLE_EQ(s["calls_per_sample"].get<double>(), 18 / 4.0);
  EXPECT_DOUBLE_EQ(s["fallback_rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(s["agreement_rate"].get<double>(), 2 / 3.0);  // the fallback at level 1 has none
  EXPECT_DOUBLE_EQ(s["verified_rate"].get<double>(), 0.5);
  EXPECT_EQ(s["level_counts"], (json{{"1", 1}, {"2", 1}, {"3", 2}}));
  EXPECT_DOUBLE_EQ(s["prompt_tokens_per_sample"].get<double>(), 450.0);
  EXPECT_DOUBLE_EQ(s["cost_per_sample_usd"].get<double>(), 0.015);
  auto unknown = rows;
  unknown[1]["agent"]["cost_usd"] = nullptr;  // a model without a price
  EXPECT_TRUE(agent_summary(unknown)["cost_per_sample_usd"].is_null());
  const json md = agent_summary({json{{"agent", {{"name", "mdagent"}, {"calls", 4}, {"mode", "intermediate"}}}},
                                 json{{"agent", {{"name", "mdagent"}, {"calls", 1}, {"mode", "basic"}}}}});
  EXPECT_EQ(md["mode_counts"], (json{{"basic", 1}, {"intermediate", 1}}));
  EXPECT_FALSE(md.contains("fallback_rate"));
  EXPECT_TRUE(md["prompt_tokens_per_sample"].is_null());
}

}  // namespace
}  // namespace mvb
