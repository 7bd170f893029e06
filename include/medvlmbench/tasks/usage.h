// Usages: how a model is used on a task (off-the-shelf, clip-zs, lp, LoRA, agent wrappers). A usage
// runner consumes samples and writes one prediction row per sample; the task evaluator scores them.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/registry.h"
#include "medvlmbench/core/run_config.h"
#include "medvlmbench/core/sample.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/models/model.h"

namespace mvb {

// Receives finished prediction rows (written to predictions.jsonl and flushed at once).
class PredictionSink {
 public:
  virtual ~PredictionSink() = default;
  virtual void write(const nlohmann::json& row) = 0;
  // Called at batch ends: a good moment to fsync.
  virtual void checkpoint() {}
};

struct RunContext {
  const RunConfig& cfg;
  const DatasetInfo& dataset;
  std::string run_dir;
  c10::Device device;
  std::unique_ptr<SampleReader> samples;  // already filtered by shard/limit/resume
  int64_t total = -1;                     // samples to process, when known
  Model* model = nullptr;                 // built from the model registry (may be null for usages
                                          // that build their own, e.g. lp eval from a run folder)
  PredictionSink* sink = nullptr;
  nlohmann::json stats = nlohmann::json::object();  // usage-specific numbers for run.json
};

class UsageRunner {
 public:
  virtual ~UsageRunner() = default;
  virtual void run(RunContext& ctx) = 0;
};

struct UsageEntry {
  std::string usage;                  // the --usage name ("ots" = off-the-shelf)
  std::string task;                   // the task this runner serves
  std::string kind;                   // "eval", "train" or "agent" (an eval wrapper)
  std::vector<std::string> families;  // model families it works with
  std::string description;
  std::function<std::unique_ptr<UsageRunner>()> factory;
};

// One entry per (usage, task); the key is usage_key(usage, task). Register with
//   MVB_REGISTER(usage_registry(), usage_key("clip-zs", "diagnosis"), UsageEntry{...});
Registry<UsageEntry>& usage_registry();
std::string usage_key(const std::string& usage, const std::string& task);

// The usage a run uses when --usage is not given.
inline constexpr const char* kOffTheShelfUsage = "ots";
// The usage `train` uses when --usage is not given: generative supervised fine-tuning (train/sft.h).
inline constexpr const char* kTrainUsage = "sft";

// Finds the runner for (usage, task, kind) with errors that name what is valid instead.
const UsageEntry& find_usage(const std::string& usage, const std::string& task, const std::string& kind);
// Distinct usage names, sorted.
std::vector<std::string> usage_names();

// A row's "image_path": the sample's images joined with ";" (MedXpertQA questions have several; the
// reference joins them the same way), or the one image's path.
std::string row_image_path(const Sample& s);

// Builds a prediction row for a sample that failed (loader error, decode error, model error).
nlohmann::json error_row(const Sample& s, const std::string& error);

// The sampling seed of one sample's generation request: --seed mixed with the sample's id (stable
// within a dataset split), so an answer does not depend on the batch it ran in, on --shard, or on
// --resume skipping samples before it.
uint64_t generation_seed(int64_t run_seed, const std::string& sample_id);

}  // namespace mvb
