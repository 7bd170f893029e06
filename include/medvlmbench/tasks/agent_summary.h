// The "agent" block of metrics.json for runs of the agent wrappers (--usage mdagent|ucagent), made
// from the rows' "agent" objects (agents/agents.h) so that `medvlmbench score` and resumed runs give
// the same figures as the run itself.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

namespace mvb {

// null when no row has an "agent" object. Otherwise: samples, failed, calls_per_sample,
// unused_calls, prompt/completion tokens per sample, cost_per_sample_usd (null when any row's cost
// is unknown), mode_counts (MDAgent); level_counts, fallback_rate, agreement_rate, verified_rate
// (UCAgent; rates over the samples where the quantity is defined, null when none).
nlohmann::json agent_summary(const std::vector<nlohmann::json>& rows);

}  // namespace mvb
