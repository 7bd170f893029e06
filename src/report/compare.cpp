#include "medvlmbench/report/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <unordered_map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/metrics/bootstrap.h"
#include "medvlmbench/report/format.h"
#include "medvlmbench/report/headline.h"
#include "medvlmbench/report/runs.h"
#include "medvlmbench/tasks/task.h"

namespace mvb::report {
namespace {

using nlohmann::json;

std::string fmt(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string fmt_p(double p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", p);
  return buf;
}

std::string fmt_json(const json& v) { return v.is_number() ? fmt(v.get<double>()) : std::string("n/a"); }

// What a person needs to see of a sample whose correctness changed.
json sample_detail(const json& ra, const json& rb) {
  json d = json::object();
  for (const char* k : {"question", "answer", "question_type", "label"})
    if (ra.contains(k)) d[k] = ra[k];
  for (const char* k : {"prediction", "pred"}) {
    if (ra.contains(k)) d[std::string(k) + "_a"] = ra[k];
    if (rb.contains(k)) d[std::string(k) + "_b"] = rb[k];
  }
  return d;
}

}  // namespace

PairedBootstrap paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                 uint64_t seed) {
  MVB_CHECK(a.size() == b.size(), "paired bootstrap: ", a.size(), " and ", b.size(), " values; they must pair up");
  MVB_CHECK(!a.empty(), "paired bootstrap: no shared samples");
  MVB_CHECK(resamples >= 1, "paired bootstrap: --bootstrap must be at least 1, got ", resamples);
  PairedBootstrap r;
  r.n = a.size();
  r.resamples = resamples;
  r.seed = seed;
  const double n = static_cast<double>(a.size());
  std::vector<double> delta(a.size());
  double sa = 0, sb = 0, sd = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    delta[i] = b[i] - a[i];
    sa += a[i];
    sb += b[i];
    sd += delta[i];
  }
  r.mean_a = sa / n;
  r.mean_b = sb / n;
  r.diff = sd / n;
  metrics::BootstrapRng rng(seed);
  std::vector<double> ds;
  ds.reserve(static_cast<size_t>(resamples));
  int64_t extreme = 0;
  for (int k = 0; k < resamples; ++k) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += delta[rng.below(static_cast<uint32_t>(a.size()))];
    const double d = s / n;
    ds.push_back(d);
    if (std::fabs(d - r.diff) >= std::fabs(r.diff)) ++extreme;
  }
  r.p_value = r.diff == 0 ? 1.0 : static_cast<double>(1 + extreme) / static_cast<double>(resamples + 1);
  r.ci95 = {metrics::percentile(ds, 2.5), metrics::percentile(ds, 97.5)};
  return r;
}

Comparison compare_runs(const std::string& dir_a, const std::string& dir_b, const CompareOptions& opts) {
  const Run a = load_run(dir_a), b = load_run(dir_b);
  MVB_USAGE_CHECK(a.task == b.task, dir_a, " is a ", a.task, " run and ", dir_b, " a ", b.task,
                  " run; compare two runs of the same task");
  const auto* task = task_registry().find(a.task);
  MVB_CHECK(task, dir_a, ": run.json names task '", a.task, "', which this build does not know");
  const auto evaluator = task->evaluator();
  const std::vector<json> rows_a = load_rows(a), rows_b = load_rows(b);
  const auto va = evaluator->sample_values(rows_a), vb = evaluator->sample_values(rows_b);
  std::unordered_map<std::string, size_t> b_index;
  for (size_t i = 0; i < rows_b.size(); ++i)
    if (!vb[i].empty()) b_index[rows_b[i].value("id", "")] = i;
  std::vector<std::pair<size_t, size_t>> pairs;  // (row in A, row in B), A's order
  for (size_t i = 0; i < rows_a.size(); ++i) {
    if (va[i].empty()) continue;
    const auto it = b_index.find(rows_a[i].value("id", ""));
    if (it != b_index.end()) pairs.emplace_back(i, it->second);
  }

  Comparison c;
  c.run_a = dir_a;
  c.run_b = dir_b;
  c.task = a.task;
  c.dataset_a = a.dataset;
  c.dataset_b = b.dataset;
  c.rows_a = rows_a.size();
  c.rows_b = rows_b.size();
  c.shared = pairs.size();
  MVB_CHECK(!pairs.empty(), dir_a, " and ", dir_b,
            " share no scored sample (ids differ); compare runs on the same data");

  // Meters every shared sample may have (a VQA meter exists for its question kind only).
  std::set<std::string> available;
  for (const auto& [i, j] : pairs)
    for (const auto& kv : va[i])
      if (vb[j].count(kv.first)) available.insert(kv.first);
  std::vector<std::string> meters = opts.meters;
  if (meters.empty()) {
    for (const auto& h : headline_meters(a.task))
      if (available.count(h.key)) meters.push_back(h.key);
    if (meters.empty()) meters.assign(available.begin(), available.end());
  }
  for (const auto& m : meters)
    MVB_USAGE_CHECK(available.count(m), "--metric ", m,
                    " cannot be compared sample by sample for these runs (it is not a mean over samples, or no "
                    "shared sample has it); choose one of: ",
                    join(std::vector<std::string>(available.begin(), available.end()), ", "));
  for (const auto& m : meters) {
    std::vector<double> xa, xb;
    for (const auto& [i, j] : pairs) {
      const auto ia = va[i].find(m), ib = vb[j].find(m);
      if (ia != va[i].end() && ib != vb[j].end()) {
        xa.push_back(ia->second);
        xb.push_back(ib->second);
      }
    }
    MeterComparison mc;
    mc.meter = m;
    const json ma = a.metrics.value("metrics", json::object()), mb = b.metrics.value("metrics", json::object());
    mc.a_all = ma.contains(m) ? ma[m] : json(nullptr);
    mc.b_all = mb.contains(m) ? mb[m] : json(nullptr);
    mc.test = paired_bootstrap(xa, xb, opts.resamples, opts.seed);
    c.meters.push_back(mc);
  }

  std::vector<ChangedSample> fixed, broken;
  for (const auto& [i, j] : pairs) {
    const std::string m = first_present(correctness_meters(a.task), va[i]);
    if (m.empty() || !vb[j].count(m)) continue;
    const double x = va[i].at(m), y = vb[j].at(m);
    if (x == y) continue;
    ChangedSample s{rows_a[i].value("id", ""), x, y, m, sample_detail(rows_a[i], rows_b[j])};
    (y > x ? fixed : broken).push_back(std::move(s));
  }
  c.changed = std::move(fixed);
  c.changed.insert(c.changed.end(), broken.begin(), broken.end());
  return c;
}

json to_json(const Comparison& c) {
  json out = {{"run_a", c.run_a},        {"run_b", c.run_b},        {"task", c.task},
              {"rows_a", c.rows_a},      {"rows_b", c.rows_b},      {"shared_samples", c.shared},
              {"meters", json::array()}, {"changed", json::array()}};
  for (const auto& m : c.meters)
    out["meters"].push_back({{"meter", m.meter},
                             {"a", m.a_all},
                             {"b", m.b_all},
                             {"n", m.test.n},
                             {"mean_a", m.test.mean_a},
                             {"mean_b", m.test.mean_b},
                             {"diff", m.test.diff},
                             {"ci95_diff", {m.test.ci95[0], m.test.ci95[1]}},
                             {"p_value", m.test.p_value},
                             {"resamples", m.test.resamples},
                             {"seed", m.test.seed}});
  for (const auto& s : c.changed)
    out["changed"].push_back({{"id", s.id}, {"meter", s.meter}, {"a", s.a}, {"b", s.b}, {"detail", s.detail}});
  return out;
}

std::string to_text(const Comparison& c) {
  std::ostringstream os;
  os << "A: " << c.run_a << "\nB: " << c.run_b << "\n"
     << c.task << ": " << c.shared << " shared samples (A " << c.rows_a << " rows, B " << c.rows_b << " rows)\n";
  for (const auto& m : c.meters)
    os << "  " << m.meter << ": A " << fmt(m.test.mean_a) << "  B " << fmt(m.test.mean_b) << "  B-A "
       << (m.test.diff >= 0 ? "+" : "") << fmt(m.test.diff) << " [95% CI " << fmt(m.test.ci95[0]) << ", "
       << fmt(m.test.ci95[1]) << "]  p = " << fmt_p(m.test.p_value) << "  (n " << m.test.n << "; whole runs "
       << fmt_json(m.a_all) << " vs " << fmt_json(m.b_all) << ")\n";
  size_t fixed = 0;
  for (const auto& s : c.changed) fixed += s.b > s.a;
  os << "changed correctness: " << fixed << " right only in B, " << c.changed.size() - fixed << " right only in A\n";
  for (const auto& s : c.changed) os << "  " << (s.b > s.a ? "+ " : "- ") << s.id << " (" << s.meter << ")\n";
  return os.str();
}

std::string to_markdown(const Comparison& c) {
  std::ostringstream os;
  os << "## " << md_escape(c.task) << ": B vs A\n\n- A: `" << c.run_a << "`\n- B: `" << c.run_b
     << "`\n- shared samples: " << c.shared << " (A " << c.rows_a << " rows, B " << c.rows_b << " rows)\n\n";
  os << "| meter | A | B | B − A | 95% CI of B − A | p (paired bootstrap) | n |\n|---|---|---|---|---|---|---|\n";
  for (const auto& m : c.meters)
    os << "| " << md_escape(m.meter) << " | " << fmt(m.test.mean_a) << " | " << fmt(m.test.mean_b) << " | "
       << (m.test.diff >= 0 ? "+" : "") << fmt(m.test.diff) << " | [" << fmt(m.test.ci95[0]) << ", "
       << fmt(m.test.ci95[1]) << "] | " << fmt_p(m.test.p_value) << " | " << m.test.n << " |\n";
  os << "\n### Samples whose correctness changed (" << c.changed.size() << ")\n\n";
  if (!c.changed.empty()) {
    os << "| sample | change | meter |\n|---|---|---|\n";
    for (const auto& s : c.changed)
      os << "| " << md_escape(s.id) << " | " << (s.b > s.a ? "wrong → right" : "right → wrong") << " | " << s.meter
         << " |\n";
  }
  return os.str();
}

}  // namespace mvb::report
