#include "medvlmbench/report/runs.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <unordered_map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/tasks/task.h"

namespace mvb::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// "i/n" -> (i, n); (-1, 0) when unsharded or unreadable.
std::pair<int, int> parse_shard(const std::string& s) {
  const auto slash = s.find('/');
  if (s.empty() || slash == std::string::npos) return {-1, 0};
  try {
    return {std::stoi(s.substr(0, slash)), std::stoi(s.substr(slash + 1))};
  } catch (const std::exception&) {
    return {-1, 0};
  }
}

// Keeps the last row per sample id (a resumed run may retry a failed sample), in first-seen order.
std::vector<json> latest_rows(std::vector<json> rows) {
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < rows.size(); ++i) last[rows[i].value("id", "#" + std::to_string(i))] = i;
  std::vector<json> out;
  for (size_t i = 0; i < rows.size(); ++i)
    if (last[rows[i].value("id", "#" + std::to_string(i))] == i) out.push_back(std::move(rows[i]));
  return out;
}

std::vector<json> rows_of(const std::string& dir) {
  const std::string path = io::join_path(dir, kPredictionsFile);
  if (!io::exists(path)) return {};
  return latest_rows(io::read_jsonl(path).rows);
}

std::string identity_key(const Run& r) {
  return r.kind + "|" + r.task + "|" + r.dataset + "|" + r.split + "|" + r.model + "|" + r.model_path + "|" + r.usage +
         "|" + std::to_string(r.seed);
}

// Re-scores merged shards with the task's evaluator, as `medvlmbench score` would (no BERTScore).
json score_merged(const Run& run, const std::vector<json>& rows, int bootstrap) {
  const auto* task = task_registry().find(run.task);
  MVB_CHECK(task, run.dir, ": run.json names task '", run.task, "', which this build does not know");
  ScoreOptions opts;
  const json cfg = run.manifest.value("config", json::object());
  opts.bootstrap = bootstrap >= 0 ? bootstrap : cfg.value("bootstrap", 1000);
  opts.seed = run.seed;
  if (const DatasetEntry* e = dataset_registry().find(run.dataset)) {
    const auto ds = e->factory();
    opts.class_texts = ds->info().class_texts;
    opts.multi_label = ds->info().multi_label;
  }
  const ScoreResult r = task->evaluator()->score(rows, opts);
  json m = {{"task", run.task},
            {"dataset", run.dataset},
            {"split", run.split},
            {"model", run.model},
            {"model_path", run.model_path},
            {"usage", run.usage},
            {"num_rows", rows.size()},
            {"num_scored", r.num_scored},
            {"num_errors", r.num_errors},
            {"metrics", r.metrics},
            {"ci95", r.ci95},
            {"notes", r.notes}};
  m["notes"].push_back("merged from " + std::to_string(run.shards.size()) + " shards and re-scored by `report`");
  return m;
}

}  // namespace

std::string Run::row_label() const {
  std::string s = model + " · " + io::basename(model_path);
  if (!usage.empty() && usage != "ots") s += " · " + usage;
  if (seed != 0) s += " · seed " + std::to_string(seed);
  if (kind == "train") s += " (train)";
  return s;
}

std::string Run::column_label() const {
  return split.empty() || split == "test" ? dataset : dataset + " (" + split + ")";
}

std::string Run::anchor() const {
  std::string s = kind + "-" + task + "-" + dataset + "-" + split + "-" + model + "-" + io::basename(model_path) + "-" +
                  usage + "-" + std::to_string(seed);
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
  // The same identity can sit in two folders (another --exp_path, another prompt): the folder decides.
  char h[20];
  std::snprintf(h, sizeof h, "-%08zx", std::hash<std::string>{}(dir)&0xffffffffu);
  return s + h;
}

Run load_run(const std::string& dir) {
  const std::string manifest_path = io::join_path(dir, kManifestFile);
  MVB_CHECK(io::exists(manifest_path), dir, " is not a run folder (no ", kManifestFile,
            "); give a folder that `medvlmbench eval` printed");
  Run r;
  r.dir = dir;
  r.shards = {dir};
  r.manifest = io::read_json(manifest_path);
  MVB_CHECK(r.manifest.is_object() && r.manifest.contains("config"), manifest_path,
            " has no \"config\" block; it was not written by medvlmbench");
  const json& c = r.manifest["config"];
  // run.json's config records the command; older folders: train folders are named train_*.
  r.kind = str(c, "command");
  if (r.kind != "eval" && r.kind != "train")
    r.kind = fs::path(dir).filename().string().rfind("train_", 0) == 0 ? "train" : "eval";
  r.task = str(c, "task");
  r.dataset = str(c, "dataset");
  r.split = str(c, "split");
  r.model = str(c, "model");
  r.model_path = str(c, "model_path");
  r.usage = str(c, "usage");
  if (r.usage.empty()) r.usage = "ots";
  r.seed = c.value("seed", 0);
  r.status = str(r.manifest, "status");
  const std::string metrics_path = io::join_path(dir, kMetricsFile);
  // An interrupted run or a train run may have none: an empty object, so lookups need no null checks.
  r.metrics = io::exists(metrics_path) ? io::read_json(metrics_path) : nlohmann::json::object();
  if (!r.metrics.is_object()) r.metrics = nlohmann::json::object();
  return r;
}

std::vector<Run> collect_runs(const std::string& root, int bootstrap) {
  MVB_CHECK(io::is_directory(root), root, " is not a folder; give the --exp_path (or --output_dir) of your runs");
  std::vector<std::string> dirs;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    // Caches hold API responses and features, never runs.
    if (it->is_directory() && it->path().filename().string().rfind('.', 0) == 0) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().filename() == kManifestFile)
      dirs.push_back(it->path().parent_path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<Run> runs;
  std::map<std::string, size_t> sharded;  // identity -> index in runs
  for (const auto& d : dirs) {
    Run r = load_run(d);
    const auto [si, sn] = parse_shard(str(r.manifest["config"], "shard"));
    // A shard folder (.../shard-i-of-n) below a run `medvlmbench merge` already wrote: that merged
    // run is the one reported (docs/scale-out.md), not the shards again.
    if (sn > 1 && r.kind == "eval") {
      const std::string parent_manifest = io::join_path(fs::path(d).parent_path().string(), kManifestFile);
      if (io::exists(parent_manifest) && io::read_json(parent_manifest).contains("merged_from")) continue;
    }
    if (sn > 1 && r.kind == "eval") {
      const std::string key = identity_key(r) + "|/" + std::to_string(sn);
      const auto it = sharded.find(key);
      if (it != sharded.end()) {
        runs[it->second].shards.push_back(d);
        continue;
      }
      sharded[key] = runs.size();
    }
    runs.push_back(std::move(r));
  }
  for (Run& r : runs) {
    if (r.shards.size() < 2) continue;
    // Shard i holds dataset positions i, i+n, ...: interleaving the shards' rows restores dataset order.
    std::sort(r.shards.begin(), r.shards.end(), [](const std::string& a, const std::string& b) {
      return parse_shard(str(io::read_json(io::join_path(a, kManifestFile))["config"], "shard")).first <
             parse_shard(str(io::read_json(io::join_path(b, kManifestFile))["config"], "shard")).first;
    });
    r.dir = r.shards.front();
    r.metrics = score_merged(r, load_rows(r), bootstrap);
    int64_t written = 0, errors = 0;
    for (const auto& d : r.shards) {
      const json m = io::read_json(io::join_path(d, kManifestFile));
      const json s = m.value("samples", json::object());
      written += s.value("written", int64_t{0});
      errors += s.value("errors", int64_t{0});
    }
    r.manifest["samples"]["written"] = written;
    r.manifest["samples"]["errors"] = errors;
  }
  return runs;
}

std::vector<json> load_rows(const Run& run) {
  if (run.shards.size() < 2) return rows_of(run.dir);
  std::vector<std::vector<json>> parts;
  for (const auto& d : run.shards) parts.push_back(rows_of(d));
  std::vector<json> out;
  for (size_t j = 0;; ++j) {
    bool any = false;
    for (auto& p : parts)
      if (j < p.size()) {
        out.push_back(std::move(p[j]));
        any = true;
      }
    if (!any) break;
  }
  return out;
}

}  // namespace mvb::report
