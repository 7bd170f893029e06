// Per-sample meter values accumulated by name and reduced to global means, as the reference's
// MetricLogger (global_avg = sum / count over the samples that updated the meter). Meters of the
// same group were updated by the same samples, so their bootstrap CIs share resamples.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::metrics {

class MeterSet {
 public:
  void add(const std::string& group, const std::string& name, double value);
  bool empty() const { return meters_.empty(); }
  bool contains(const std::string& name) const { return meters_.count(name) > 0; }
  double mean(const std::string& name) const;
  size_t count(const std::string& name) const;

  // metrics[name] = mean for every meter; ci95[name] = [lo, hi] for meters accepted by
  // `want_ci` (percentile bootstrap, `resamples` draws, seeded per group).
  template <class Pred>
  void write(nlohmann::json& metrics, nlohmann::json& ci95, int resamples, uint64_t seed, Pred want_ci) const {
    for (const auto& [name, m] : meters_) metrics[name] = mean(name);
    write_ci(ci95, resamples, seed, [&](const std::string& n) { return static_cast<bool>(want_ci(n)); });
  }

 private:
  struct Meter {
    std::string group;
    std::vector<double> values;
  };
  void write_ci(nlohmann::json& ci95, int resamples, uint64_t seed,
                const std::function<bool(const std::string&)>& want_ci) const;
  std::map<std::string, Meter> meters_;
};

}  // namespace mvb::metrics
