#include "medvlmbench/metrics/meters.h"

#include <functional>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/bootstrap.h"

namespace mvb::metrics {
namespace {
// FNV-1a: a group's seed must not depend on the standard library's std::hash.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}
}  // namespace

void MeterSet::add(const std::string& group, const std::string& name, double value) {
  Meter& m = meters_[name];
  if (m.values.empty()) m.group = group;
  MVB_CHECK(m.group == group, "internal: meter ", name, " updated from groups ", m.group, " and ", group);
  m.values.push_back(value);
}

double MeterSet::mean(const std::string& name) const {
  const Meter& m = meters_.at(name);
  double s = 0;
  for (double v : m.values) s += v;
  return s / static_cast<double>(m.values.size());
}

size_t MeterSet::count(const std::string& name) const {
  auto it = meters_.find(name);
  return it == meters_.end() ? 0 : it->second.values.size();
}

void MeterSet::write_ci(nlohmann::json& ci95, int resamples, uint64_t seed,
                        const std::function<bool(const std::string&)>& want_ci) const {
  if (resamples <= 0) return;
  // Columns per (group, length): meters of one group have one value per sample of the group.
  std::map<std::pair<std::string, size_t>, std::vector<std::pair<std::string, const std::vector<double>*>>> groups;
  for (const auto& [name, m] : meters_)
    if (want_ci(name)) groups[{m.group, m.values.size()}].emplace_back(name, &m.values);
  for (const auto& [key, cols] : groups) {
    std::vector<const std::vector<double>*> columns;
    for (const auto& c : cols) columns.push_back(c.second);
    const uint64_t group_seed = seed ^ (fnv1a(key.first) * 0x9E3779B97F4A7C15ULL);
    const auto cis = bootstrap_means_ci(columns, resamples, group_seed);
    for (size_t i = 0; i < cols.size(); ++i)
      if (cis[i]) ci95[cols[i].first] = {(*cis[i])[0], (*cis[i])[1]};
  }
}

}  // namespace mvb::metrics
