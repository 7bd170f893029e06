// `medvlmbench merge`: combines the run folders of one sharded evaluation (--shard i/n, Slurm array
// tasks, or the workers of --devices) into one run folder that is byte-for-byte the folder a single
// unsharded run writes (predictions.jsonl in dataset order, the same metrics, results.csv and
// predictions.json), after checking that the shards belong together and cover every sample once.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb {

struct MergeOptions {
  std::vector<std::string> run_dirs;  // one run folder per shard (any order)
  // Where the merged run goes; "" = the folder an unsharded run with shard 0's --exp_path writes
  // (the folder above the shard-{i}-of-{n} folders when the shards shared one --exp_path).
  std::string output;
  // The dataset folder, re-read to know which samples each shard had to produce; "" = the
  // --image_path recorded in the shards' run.json.
  std::string image_path;
  std::string device = "auto";  // BERTScore's forwards while scoring
};

struct MergeOutcome {
  std::string run_dir;
  nlohmann::json metrics;  // metrics.json content
  int64_t rows = 0;
  int64_t errors = 0;  // failed rows among them
};

// The run.json keys that may differ between the shards of one evaluation (where and how a shard
// ran, not what it computed). Every other config key, the dataset block and the checkpoint's
// hub id and revision must be equal.
const std::vector<std::string>& merge_operational_keys();

// Throws mvb::Error (one line naming the folder and the fix) when the shards do not belong to one
// evaluation, a shard did not finish, or a sample is missing or given twice.
MergeOutcome merge_runs(const MergeOptions& opts);

}  // namespace mvb
