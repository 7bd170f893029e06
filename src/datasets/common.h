// Helpers shared by the dataset loaders (internal to src/datasets): the base class holding
// DatasetInfo, a lazily-materialising reader, the reference's prompt templates, safe path joins and
// error rows.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/npz.h"

namespace mvb::datasets {

class LoaderBase : public Dataset {
 public:
  const DatasetInfo& info() const override { return info_; }
  // Calls load(); a runtime error from a file the split depends on (unparsable JSON, truncated
  // parquet, missing CSV column ...) is rethrown once, prefixed with the dataset name and followed by
  // the expected layout, so every whole-file failure says what the folder should look like.
  std::unique_ptr<SampleReader> open(const DatasetRequest& req) const final;

 protected:
  virtual std::unique_ptr<SampleReader> load(const DatasetRequest& req) const = 0;
  // The parts a split name stands for: "all" -> `all_parts`, else {split}. Throws UsageError for a
  // split the loader does not declare.
  std::vector<std::string> parts_of(const std::string& split, const std::vector<std::string>& all_parts) const;
  // "<name>: <what>; expected layout: <layout>", for whole-file errors.
  [[noreturn]] void fail(const std::string& what) const;
  DatasetInfo info_;
};

// Builds samples on demand: `stubs` hold everything cheap (text, labels, paths); `materialize` adds
// what costs I/O (array pixels, embedded image bytes) when the sample is read. An mvb::Error thrown by
// `materialize` turns that sample into an error row. skip() passes a sample without building it.
// Every loader's samples pass through here, so two guarantees live here (issue 18, defects 1 and 3):
// ids are valid UTF-8 and unique within the split (see unique_sample_ids), and the text a sample
// carries (question, answer, prompt, choices, metadata) is valid UTF-8, decoded with replacement as
// Python's errors="replace" does, so no JSON writer or API request body ever meets invalid bytes.
class LazySampleReader : public SkippableSampleReader {
 public:
  using Materialize = std::function<void(size_t index, Sample& s)>;
  explicit LazySampleReader(std::vector<Sample> stubs, Materialize materialize = nullptr);
  bool next(Sample& out) override;
  bool skip() override { return pos_ < stubs_.size() ? (++pos_, true) : false; }
  int64_t size_hint() const override { return static_cast<int64_t>(stubs_.size()); }

 private:
  std::vector<Sample> stubs_;
  Materialize materialize_;
  size_t pos_ = 0;
};

// --- the reference's prompts (MedVLMBench dataset/vqa.py, dataset/caption.py) ---
// VQA template 1, used iff the answer lowercased is "yes" or "no" (even for OPEN questions).
extern const char* const kYesNoPrefix;
// Multiple choice suffix (MedXpertQA, OmniMedVQA).
extern const char* const kSingleLetterSuffix;
// "Can you provide a medical report for this image? {}".format("").strip()
extern const char* const kCaptionPrompt;
bool is_yes_no(const std::string& answer);
std::string vqa_prompt(const std::string& question, const std::string& answer);

// --- paths ---
// root/rel when it stays inside root; otherwise sets *error and returns "".
std::string join_within(const std::string& root, const std::string& rel, std::string* error);
// join_within, and the file must exist: otherwise "" with *error set to why (the escape, or
// "<missing> <path>").
std::string existing_within(const std::string& root, const std::string& rel, std::string* error,
                            const std::string& missing = "missing image");
// Starts sample `id` of `split` on the image root/rel (s.id, s.split, s.images) and returns true;
// when that path escapes `root` or the file is missing, appends an error row saying so to `out`
// instead and returns false. `missing` words the second case ("missing image array").
bool start_image_sample(Sample& s, std::vector<Sample>& out, const std::string& id, const std::string& split,
                        const std::string& root, const std::string& rel, const std::string& missing = "missing image");
// The first of `candidates` that exists, or "".
std::string first_existing(const std::vector<std::string>& candidates);
std::string parent_dir(const std::string& path);
// Sorted names of regular files directly in `dir` whose lowercase extension is one of `exts`.
std::vector<std::string> list_files(const std::string& dir, const std::vector<std::string>& exts);

// --- values ---
// Python str() of a JSON value (strings as is, null "None", true "True", 3 "3", 2.5 "2.5").
std::string json_str(const nlohmann::json& v);
// Parses an integer the way pandas reads one ("3", "3.0", " 3 "); false on anything else.
bool parse_int(const std::string& text, long long* out);

// Appends a diagnosis sample for image `rel` under `base` with class `label`, or an error row when
// the path escapes `base` or the file is missing.
void add_image_sample(std::vector<Sample>& out, const std::string& id, const std::string& split,
                      const std::string& base, const std::string& rel, int label, const std::string& modality);
// {dir}/{prefix}{part}.csv; for "validation" also {prefix}val.csv. "" when none exists.
std::string find_split_csv(const std::string& dir, const std::string& prefix, const std::string& part);
// The names find_split_csv looks for, for error messages ("a" or "a (or b)").
std::string split_csv_names(const std::string& dir, const std::string& prefix, const std::string& part);
// "<file> row <n>" for CSV data row r (1-based line numbers, header = line 1).
std::string csv_row(const std::string& file, size_t r);

// Makes the ids of `samples` (in dataset order) valid UTF-8 and unique, deterministically, so they
// are stable across runs: invalid bytes become \xNN (two non-UTF-8 file names stay distinct, where
// JSON's replacement character would merge them), and every later occurrence of an id already taken
// gets "#2", "#3" ... (the first free one, never an id the split already has): two SLAKE questions
// sharing a qid, or an error row whose fallback id equals a valid record's, both keep their row.
void unique_sample_ids(std::vector<Sample>& samples);
// Sanitises a sample's text fields to valid UTF-8 (replacement), in place.
void sanitize_sample_text(Sample& s);

// A Sample that only carries an error (the run records it as an error row).
Sample error_sample(const std::string& id, const std::string& split, const std::string& error);

// Pixels of a 2-D (H,W) or 3-D (H,W,3|1) array as PIL's Image.fromarray(a).convert("RGB") sees
// them for uint8 data; other dtypes are truncated to uint8 after clamping to [0,255]. `what` names
// the source in errors.
std::shared_ptr<const PixelBuffer> pixels_from_array(const io::NpyArray& a, int64_t first_index,
                                                     const std::string& what);
// Reads `key` of the npz at `path` as pixels.
std::shared_ptr<const PixelBuffer> pixels_from_npz(const std::string& path, const std::string& key);

}  // namespace mvb::datasets
