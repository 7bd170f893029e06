// Dataset loaders. A loader knows one dataset family's on-disk layout (the same files the reference
// reads) and produces Samples; images are referenced, not decoded, so listing a split is cheap.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "medvlmbench/core/registry.h"
#include "medvlmbench/core/sample.h"
#include "medvlmbench/core/sample_reader.h"

namespace mvb {

struct DatasetInfo {
  std::string name;                      // registry name, e.g. "SLAKE"
  std::vector<std::string> tasks;        // "vqa", "caption", "diagnosis"
  std::vector<std::string> splits;       // splits the loader accepts ("all" included when supported)
  std::vector<std::string> class_texts;  // diagnosis: class texts in label order, exactly as the reference
  bool multi_label = false;
  std::string modality;  // radiology, pathology, dermatology, ophthalmology, multi-modal
  std::string layout;    // the expected folder layout, shown by `check` and errors
  std::string description;
  // The string the reference writes in results.csv's "modality" column (its dataset.modality, or
  // "image" for diagnosis datasets, which have none). Empty = use `modality`.
  std::string results_modality;
  std::vector<std::string> aliases;  // other names users type for this dataset (shown by `list`)
};

struct DatasetRequest {
  std::string task;
  std::string split;
  std::string root;  // --image_path
  // --cache_dir: loaders of datasets the reference reads with datasets.load_dataset (SLAKE, PathVQA,
  // VQA-RAD) also look for the repository in the Hugging Face hub cache under it and the HF_HOME /
  // HF_HUB_CACHE environment (io/hub_cache.h). "" = the environment's caches only.
  std::string cache_dir;
};

struct CheckReport {
  bool ok = true;
  std::vector<std::string> problems;      // first problems found, precise
  std::map<std::string, int64_t> counts;  // "test" -> n, "test/class 1" -> n ...
  std::string layout;                     // expected layout, printed when !ok
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual const DatasetInfo& info() const = 0;
  // Opens a split. Throws mvb::Error (one line naming the missing/corrupt file and the expected
  // layout) when the annotation files are unusable; individual bad samples come back with
  // Sample::error set instead.
  virtual std::unique_ptr<SampleReader> open(const DatasetRequest& req) const = 0;
  // Validates a folder: annotations parse, every referenced image exists and decodes; counts per
  // split and class. The default implementation opens each split and decodes each image.
  virtual CheckReport check(const std::string& root, const std::string& task) const;
  // The distinct splits `check` walks (default: info().splits without "all"). Loaders whose split
  // names alias one file (e.g. CheXpert validation -> train.csv) list each file once.
  virtual std::vector<std::string> check_splits(const std::string& task) const;
};

// A reader that can pass over a sample without building it (no image or array I/O).
// select_samples uses it for samples outside the requested shard.
class SkippableSampleReader : public SampleReader {
 public:
  // Advances past one sample; false at the end.
  virtual bool skip() = 0;
};

struct DatasetEntry {
  std::function<std::unique_ptr<Dataset>()> factory;
};

Registry<DatasetEntry>& dataset_registry();

// Deterministic sampling applied after a loader: shard i/n keeps samples whose position in the
// dataset's order is congruent to i mod n (the reference's multi-GPU split), then --limit keeps the
// first N of those. Samples outside the shard are passed with SkippableSampleReader::skip() when the
// loader's reader supports it, so their images are never read.
struct SampleSelection {
  int shard_index = 0;
  int shard_count = 1;
  int64_t limit = -1;
  static SampleSelection parse(const std::string& shard, int64_t limit);  // UsageError on bad spec
};
// The shard an eval runs: --shard when given (`shard` non-empty), else the Slurm array task's, so an
// array job shards without flags: index (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) /
// SLURM_ARRAY_TASK_STEP of SLURM_ARRAY_TASK_COUNT. Returns "" (no sharding) outside an array job.
// MVB_SLURM_SHARD=0 turns this off (array jobs whose tasks are different runs, e.g. a sweep).
// `source` says where the value came from ("--shard", the Slurm variables, or ""). A malformed
// Slurm variable is a UsageError naming it.
std::string shard_from_environment(const std::string& shard, std::string* source);

std::unique_ptr<SampleReader> select_samples(std::unique_ptr<SampleReader> reader, const SampleSelection& sel);

}  // namespace mvb
