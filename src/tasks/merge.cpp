#include "medvlmbench/tasks/merge.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/tasks/pipeline.h"

namespace mvb {

const std::vector<std::string>& merge_operational_keys() {
  // Where a shard wrote and read (paths differ between nodes), on which device, with how many decode
  // threads, how it logged, and whether it was resumed. Batch size stays in the fingerprint:
  // generative models' batches are padded to their longest prompt, so it is part of what was computed.
  static const std::vector<std::string> keys = {"shard",  "exp_path",    "image_path", "cache_dir",
                                                "device", "num_workers", "resume",     "log_level",
                                                "format", "config",      "devices"};
  return keys;
}

namespace {

struct Shard {
  std::string dir;
  nlohmann::json manifest;
  SampleSelection sel;
  std::unordered_map<std::string, nlohmann::json> rows;  // id -> the row that counts (the last one)
  std::vector<std::string> order;                        // ids in file order (first appearance)
};

nlohmann::json fingerprint(const nlohmann::json& manifest) {
  nlohmann::json cfg = manifest.value("config", nlohmann::json::object());
  for (const auto& k : merge_operational_keys()) cfg.erase(k);
  nlohmann::json ckpt = manifest.value("checkpoint", nlohmann::json::object());
  return {{"config", cfg},
          {"dataset", manifest.value("dataset", nlohmann::json::object())},
          {"checkpoint", {{"hub_id", ckpt.value("hub_id", "")}, {"revision", ckpt.value("revision", "")}}}};
}

// The first key (as a/b/c) where two fingerprints differ, with both values.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& at = "") {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      const nlohmann::json va = a.contains(k) ? a[k] : nlohmann::json();
      const nlohmann::json vb = b.contains(k) ? b[k] : nlohmann::json();
      if (va != vb) return first_difference(va, vb, at.empty() ? k : at + "." + k);
    }
    return "";
  }
  return at + " (" + a.dump() + " vs " + b.dump() + ")";
}

Shard read_shard(const std::string& dir) {
  Shard s;
  s.dir = dir;
  const std::string manifest_path = io::join_path(dir, kManifestFile);
  MVB_CHECK(io::exists(manifest_path), dir, " is not a run folder (no ", kManifestFile,
            "); give the run folders that the sharded `medvlmbench eval` runs printed");
  s.manifest = io::read_json(manifest_path);
  MVB_CHECK(s.manifest.contains("config") && s.manifest["config"].is_object(), manifest_path,
            " has no \"config\" block; it was not written by `medvlmbench eval`");
  const nlohmann::json& cfg = s.manifest["config"];
  MVB_CHECK(cfg.value("command", "eval") == "eval", manifest_path, " is a ", cfg.value("command", ""),
            " run; merge combines eval runs");
  const std::string status = s.manifest.value("status", "");
  MVB_CHECK(status == "completed", "shard ", dir, " did not finish (status \"", status,
            "\" in run.json); rerun that shard with --resume, then merge again");
  s.sel = SampleSelection::parse(cfg.value("shard", ""), cfg.value("limit", int64_t{-1}));
  const std::string pred = io::join_path(dir, kPredictionsFile);
  MVB_CHECK(io::exists(pred), "shard ", dir, " has no ", kPredictionsFile, "; rerun it with --resume");
  const io::JsonlContents contents = io::read_jsonl(pred);
  MVB_CHECK(contents.torn_bytes == 0, pred, " ends in a torn line; rerun that shard with --resume, which repairs it");
  for (const auto& row : contents.rows) {
    MVB_CHECK(row.contains("id") && row["id"].is_string(), pred, " has a row without a string \"id\"");
    const std::string id = row["id"].get<std::string>();
    if (!s.rows.count(id)) s.order.push_back(id);
    s.rows[id] = row;  // a resumed run retried this sample: its last row counts, as `score` counts it
  }
  return s;
}

std::string list_some(const std::vector<std::string>& ids) {
  std::vector<std::string> head(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 5));
  return join(head, ", ") + (ids.size() > head.size() ? ", ..." : "");
}

}  // namespace

MergeOutcome merge_runs(const MergeOptions& opts) {
  MVB_USAGE_CHECK(!opts.run_dirs.empty(),
                  "merge needs the run folders of the shards, e.g. "
                  "medvlmbench merge log/shard*/vqa/SLAKE/LLaVA-1.5/eval_seed0/llava-v1.5-7b");
  std::vector<Shard> shards;
  for (const auto& d : opts.run_dirs) shards.push_back(read_shard(d));

  // One evaluation: the same model, checkpoint, dataset, split and settings in every shard.
  const nlohmann::json fp0 = fingerprint(shards[0].manifest);
  for (size_t i = 1; i < shards.size(); ++i) {
    const std::string diff = first_difference(fp0, fingerprint(shards[i].manifest));
    MVB_CHECK(diff.empty(), "shards ", shards[0].dir, " and ", shards[i].dir,
              " are not parts of one evaluation: run.json differs in ", diff);
    const std::string c0 = shards[0].manifest["versions"].value("git_commit", "");
    const std::string ci = shards[i].manifest["versions"].value("git_commit", "");
    if (c0 != ci) spdlog::warn("shards were run by different builds ({} and {}) of medvlmbench", c0, ci);
  }
  // Every shard i/n exactly once.
  const int n = shards[0].sel.shard_count;
  std::vector<const Shard*> by_index(n, nullptr);
  for (const auto& s : shards) {
    MVB_CHECK(s.sel.shard_count == n, "shard ", s.dir, " is one of ", s.sel.shard_count, " shards but ", shards[0].dir,
              " is one of ", n, "; merge the shards of one split of the dataset");
    const int i = s.sel.shard_index;
    MVB_CHECK(by_index[i] == nullptr, "shard ", i, "/", n, " given twice: ", by_index[i] ? by_index[i]->dir : "",
              " and ", s.dir);
    by_index[i] = &s;
  }
  std::vector<std::string> absent;
  for (int i = 0; i < n; ++i)
    if (!by_index[i]) absent.push_back(std::to_string(i) + "/" + std::to_string(n));
  MVB_CHECK(absent.empty(), "shard(s) ", join(absent, ", "), " missing: give the run folders of all ", n,
            " shards (each run.json records its --shard)");

  // The dataset order and which shard owns each sample, read again from the dataset's annotations
  // (images are not decoded): the only way to know that no sample is missing.
  const nlohmann::json& cfg = shards[0].manifest["config"];
  const std::string dataset = cfg.value("dataset", "");
  const std::string image_path = opts.image_path.empty() ? cfg.value("image_path", "") : opts.image_path;
  const DatasetEntry* entry = dataset_registry().find(dataset);
  MVB_CHECK(entry != nullptr, "run.json of ", shards[0].dir, " names dataset '", dataset,
            "', which this build does not know");
  MVB_CHECK(io::exists(image_path), "the dataset folder ", image_path,
            " recorded in run.json does not exist here; merge re-reads its annotations to check that no sample is "
            "missing: pass --image_path DIR");
  std::unique_ptr<SampleReader> reader = entry->factory()->open(
      DatasetRequest{cfg.value("task", ""), cfg.value("split", ""), image_path, cfg.value("cache_dir", "")});
  std::vector<std::pair<int, std::string>> expected;  // (shard, id) in dataset order
  {
    Sample s;
    int64_t pos = 0;
    std::vector<int64_t> taken(n, 0);
    const int64_t limit = shards[0].sel.limit;
    while (reader->next(s)) {
      const int shard = static_cast<int>(pos++ % n);
      if (limit >= 0 && taken[shard] >= limit) continue;
      ++taken[shard];
      expected.emplace_back(shard, s.id);
    }
  }

  std::vector<nlohmann::json> merged;
  merged.reserve(expected.size());
  std::vector<std::string> missing;
  std::vector<std::unordered_map<std::string, bool>> used(n);
  for (const auto& [shard, id] : expected) {
    const Shard& s = *by_index[shard];
    auto it = s.rows.find(id);
    if (it == s.rows.end()) {
      missing.push_back(id);
      continue;
    }
    if (used[shard].count(id)) continue;  // a dataset id listed twice has one row, as in one run
    used[shard][id] = true;
    merged.push_back(it->second);
  }
  MVB_CHECK(missing.empty(), missing.size(), " sample(s) of ", dataset, " (", cfg.value("split", ""),
            ") have no row in their shard: ", list_some(missing), "; rerun the shards with --resume, then merge again");
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> foreign;
    for (const auto& id : by_index[i]->order)
      if (!used[i].count(id)) foreign.push_back(id);
    MVB_CHECK(foreign.empty(), "shard ", by_index[i]->dir, " has ", foreign.size(),
              " row(s) that are not samples of its shard ", i, "/", n, " of ", dataset, ": ", list_some(foreign),
              " (a sample given twice, or a shard of another dataset version)");
  }

  // The merged run folder: what one unsharded run writes.
  nlohmann::json manifest = shards[0].manifest;
  nlohmann::json& mcfg = manifest["config"];
  mcfg["shard"] = "";
  mcfg["resume"] = false;
  std::string out_dir = opts.output;
  if (out_dir.empty()) {
    RunConfig rc;
    rc.exp_path = cfg.value("exp_path", ".");
    rc.task = cfg.value("task", "");
    rc.dataset = dataset;
    rc.model = cfg.value("model", "");
    rc.seed = cfg.value("seed", 0);
    rc.model_path = cfg.value("model_path", "");
    rc.usage = cfg.value("usage", "");
    out_dir = eval_run_dir(rc);
  }
  for (const auto& s : shards)
    MVB_CHECK(std::filesystem::weakly_canonical(s.dir) != std::filesystem::weakly_canonical(out_dir), "--output ",
              out_dir, " is shard ", s.dir, "; merge into another folder");
  io::create_directories(out_dir);
  int64_t errors = 0;
  {
    io::JsonlWriter w(io::join_path(out_dir, kPredictionsFile), io::JsonlWriter::Mode::kTruncate);
    for (const auto& row : merged) {
      w.write(row);
      if (row.value("status", "") == "failed") ++errors;
    }
    w.sync();
  }
  nlohmann::json parts = nlohmann::json::array();
  double inference_s = 0;
  for (int i = 0; i < n; ++i) {
    const nlohmann::json& m = by_index[i]->manifest;
    parts.push_back({{"run_dir", by_index[i]->dir},
                     {"shard", m["config"].value("shard", "")},
                     {"device", m.value("device", "")},
                     {"rows", by_index[i]->rows.size()},
                     {"timings", m.value("timings", nlohmann::json::object())}});
    inference_s = std::max(inference_s, m.value("timings", nlohmann::json::object()).value("inference_s", 0.0));
  }
  manifest["merged_from"] = parts;
  manifest["shard"] = {{"index", 0}, {"count", 1}, {"source", "merge of " + std::to_string(n) + " shards"}};
  manifest["samples"] = {{"written", merged.size()}, {"errors", errors}, {"resumed", 0}};
  manifest["timings"] = {{"inference_s_slowest_shard", inference_s}};
  io::write_json_atomic(io::join_path(out_dir, kManifestFile), manifest);

  // Scored by the evaluator an unsharded run uses, with the settings the shards recorded.
  MergeOutcome out;
  out.run_dir = out_dir;
  out.metrics = score_run_dir(out_dir, cfg.value("bootstrap", 1000), cfg.value("bertscore_model", ""), opts.device);
  out.rows = static_cast<int64_t>(merged.size());
  out.errors = errors;
  manifest["samples"]["scored"] = out.metrics["num_scored"];
  io::write_json_atomic(io::join_path(out_dir, kManifestFile), manifest);
  spdlog::info("merged {} shards: {} rows ({} errors) into {}", n, out.rows, errors, out_dir);
  return out;
}

}  // namespace mvb
