#include "medvlmbench/tasks/agent_summary.h"

#include <map>
#include <string>

namespace mvb {
namespace {

nlohmann::json rate(int64_t hits, int64_t n) {
  return n > 0 ? nlohmann::json(double(hits) / n) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json agent_summary(const std::vector<nlohmann::json>& rows) {
  int64_t samples = 0, failed = 0, calls = 0, unused = 0, prompt_tokens = 0, completion_tokens = 0, token_rows = 0;
  int64_t fallback = 0, fallback_n = 0, agree = 0, agree_n = 0, verified = 0, verified_n = 0;
  double cost = 0;
  bool cost_known = true;
  std::string name;
  std::map<std::string, int64_t> modes, levels;
  for (const auto& row : rows) {
    if (!row.contains("agent") || !row["agent"].is_object()) continue;
    const auto& a = row["agent"];
    ++samples;
    name = a.value("name", name);
    if (row.value("status", "") == "failed") ++failed;
    calls += a.value("calls", int64_t{0});
    unused += a.value("unused_calls", int64_t{0});
    if (a.contains("prompt_tokens") && a.contains("completion_tokens")) {
      prompt_tokens += a["prompt_tokens"].get<int64_t>();
      completion_tokens += a["completion_tokens"].get<int64_t>();
      ++token_rows;
    }
    if (a.contains("cost_usd") && a["cost_usd"].is_number())
      cost += a["cost_usd"].get<double>();
    else
      cost_known = false;
    if (a.contains("mode")) ++modes[a["mode"].get<std::string>()];
    if (a.contains("level")) ++levels[std::to_string(a["level"].get<int>())];
    if (a.contains("fallback")) {
      ++fallback_n;
      fallback += a["fallback"].get<bool>();
    }
    if (a.contains("agreement") && a["agreement"].is_boolean()) {
      ++agree_n;
      agree += a["agreement"].get<bool>();
    }
    if (a.contains("verified") && a["verified"].is_boolean()) {
      ++verified_n;
      verified += a["verified"].get<bool>();
    }
  }
  if (samples == 0) return nullptr;
  nlohmann::json s = {{"name", name},
                      {"samples", samples},
                      {"failed", failed},
                      {"calls", calls},
                      {"calls_per_sample", double(calls) / samples},
                      {"unused_calls", unused},
                      {"prompt_tokens_per_sample",
                       token_rows ? nlohmann::json(double(prompt_tokens) / token_rows) : nlohmann::json(nullptr)},
                      {"completion_tokens_per_sample",
                       token_rows ? nlohmann::json(double(completion_tokens) / token_rows) : nlohmann::json(nullptr)},
                      {"cost_per_sample_usd", cost_known ? nlohmann::json(cost / samples) : nlohmann::json(nullptr)}};
  if (!modes.empty()) s["mode_counts"] = modes;
  if (!levels.empty()) s["level_counts"] = levels;
  if (fallback_n) {
    s["fallbacks"] = fallback;
    s["fallback_rate"] = rate(fallback, fallback_n);
    s["agreement_rate"] = rate(agree, agree_n);
    s["verified_rate"] = rate(verified, verified_n);
  }
  return s;
}

}  // namespace mvb
