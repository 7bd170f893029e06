// Finished run folders as `report` and `compare` read them: run.json (config, model, timings,
// samples), metrics.json and predictions.jsonl, found anywhere under a folder. Shards of one eval
// (the same task, dataset, split, model, checkpoint, usage and seed run with different --shard i/n,
// necessarily into different --exp_path folders) are merged into one run and re-scored.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::report {

struct Run {
  std::string dir;                  // the run folder (the first shard's for a merged run)
  std::vector<std::string> shards;  // every folder merged into this run (just `dir` when unsharded)
  std::string kind;                 // eval | train (run.json's command, from the folder name when absent)
  nlohmann::json manifest;          // run.json
  nlohmann::json metrics;           // metrics.json ({} when absent); merged shards: their rows re-scored
  std::string task, dataset, split, model, model_path, usage;
  int seed = 0;
  std::string status;  // run.json's status: completed | interrupted | running

  // "model · checkpoint · usage" (usage left out when off the shelf): a leaderboard row.
  std::string row_label() const;
  // The dataset column: the dataset, with the split when it is not test.
  std::string column_label() const;
  // A short stable identifier for anchors and file names.
  std::string anchor() const;
};

// One run folder (holding run.json). Throws mvb::Error naming the folder when it is not one.
Run load_run(const std::string& dir);

// Every run folder under `root` (run.json files found recursively, in path order), shards merged.
// Merged shards are re-scored with `bootstrap` resamples (their own config's when < 0) and without
// BERTScore. Throws when `root` does not exist; returns an empty list when it holds no run.
std::vector<Run> collect_runs(const std::string& root, int bootstrap = -1);

// The run's predictions rows (the last row per sample id, every shard), in dataset order.
std::vector<nlohmann::json> load_rows(const Run& run);

}  // namespace mvb::report
