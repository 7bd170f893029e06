#include "medvlmbench/tasks/usage.h"

#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {

Registry<UsageEntry>& usage_registry() {
  static Registry<UsageEntry> r("usage");
  return r;
}

std::string usage_key(const std::string& usage, const std::string& task) { return usage + "/" + task; }

std::vector<std::string> usage_names() {
  std::set<std::string> names;
  for (const auto& kv : usage_registry().entries()) names.insert(kv.second.usage);
  return {names.begin(), names.end()};
}

const UsageEntry& find_usage(const std::string& usage_in, const std::string& task, const std::string& kind) {
  // `train` without --usage fine-tunes a generative model ("sft"); `eval` without it runs off the shelf.
  const std::string usage = usage_in.empty() ? (kind == "train" ? kTrainUsage : kOffTheShelfUsage) : usage_in;
  const auto names = usage_names();
  std::string canonical;
  for (const auto& n : names)
    if (to_lower(n) == to_lower(usage)) canonical = n;
  if (canonical.empty()) {
    std::string msg = "unknown usage '" + usage + "'";
    const std::string best = closest_match(usage, names);
    if (!best.empty()) msg += "; did you mean '" + best + "'?";
    throw UsageError(msg + " Valid usages: " + join(names, ", "));
  }
  std::vector<std::string> tasks_served, kinds_served;
  for (const auto& kv : usage_registry().entries()) {
    const UsageEntry& e = kv.second;
    if (e.usage != canonical) continue;
    const bool kind_ok = e.kind == kind || (kind == "eval" && e.kind == "agent");
    if (e.task == task && kind_ok) return e;
    if (e.task == task) kinds_served.push_back(e.kind);
    if (kind_ok) tasks_served.push_back(e.task);
  }
  if (!kinds_served.empty())
    throw UsageError("usage '" + canonical + "' for task '" + task + "' is available with `" +
                     join(kinds_served, "`/`") + "`, not `" + kind + "`");
  throw UsageError("usage '" + canonical + "' does not apply to task '" + task + "' with `" + kind +
                   "`; it serves: " + (tasks_served.empty() ? std::string("(nothing yet)") : join(tasks_served, ", ")));
}

std::string row_image_path(const Sample& s) {
  std::string out;
  for (size_t i = 0; i < s.images.size(); ++i) out += (i ? ";" : "") + s.images[i].path;
  return out;
}

nlohmann::json error_row(const Sample& s, const std::string& error) {
  nlohmann::json row = {{"id", s.id}, {"image_path", row_image_path(s)}, {"status", "failed"}, {"error", error}};
  if (!s.question.empty()) row["question"] = s.question;
  if (!s.answer.empty()) row["answer"] = s.answer;
  if (!s.question_type.empty()) row["question_type"] = s.question_type;
  if (!s.labels.empty()) row["label"] = s.labels;
  // What the loader recorded for the reference's files (e.g. reference_image_path "NA" for parquet
  // images), so predictions.json's failed rows name the image as the reference does.
  if (s.metadata.is_object() && !s.metadata.empty()) row["metadata"] = s.metadata;
  return row;
}

uint64_t generation_seed(int64_t run_seed, const std::string& sample_id) {
  // FNV-1a of the id, then splitmix64 of (seed, hash): fixed arithmetic, so seeds are the same on
  // every platform and build (std::hash is not).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : sample_id) h = (h ^ c) * 1099511628211ull;
  uint64_t z = h ^ (static_cast<uint64_t>(run_seed) * 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace mvb
