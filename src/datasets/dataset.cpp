#include "medvlmbench/datasets/dataset.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/vision/image.h"

namespace mvb {

Registry<DatasetEntry>& dataset_registry() {
  static Registry<DatasetEntry> r("dataset");
  return r;
}

std::vector<std::string> Dataset::check_splits(const std::string& /*task*/) const {
  std::vector<std::string> out;
  for (const auto& s : info().splits)
    if (s != "all") out.push_back(s);
  return out;
}

CheckReport Dataset::check(const std::string& root, const std::string& task) const {
  CheckReport rep;
  rep.layout = info().layout;
  constexpr size_t kMaxProblems = 20;
  int64_t hidden = 0;
  auto problem = [&](const std::string& p) {
    rep.ok = false;
    if (rep.problems.size() < kMaxProblems)
      rep.problems.push_back(p);
    else
      ++hidden;
  };
  for (const auto& split : check_splits(task)) {
    std::unique_ptr<SampleReader> reader;
    try {
      reader = open(DatasetRequest{task, split, root, ""});
    } catch (const Error& e) {
      problem("split " + split + ": " + e.what());
      continue;
    }
    Sample s;
    int64_t n = 0, errors = 0;
    while (reader->next(s)) {
      ++n;
      if (!s.error.empty()) {
        ++errors;
        problem(split + " sample " + s.id + ": " + s.error);
        continue;
      }
      bool bad_image = false;
      for (const auto& img : s.images) {
        try {
          decode_image(img);
        } catch (const Error& e) {
          bad_image = true;
          problem(split + " sample " + s.id + ": " + e.what());
        }
      }
      if (bad_image) {
        ++errors;
        continue;
      }
      if (task == "diagnosis") {
        for (int l = 0; l < static_cast<int>(s.labels.size()); ++l) {
          if (info().multi_label) {
            if (s.labels[l]) ++rep.counts[split + "/label " + std::to_string(l)];
          } else {
            ++rep.counts[split + "/class " + std::to_string(s.labels[l])];
          }
        }
      } else if (!s.question_type.empty()) {
        ++rep.counts[split + "/" + s.question_type];
      }
    }
    rep.counts[split] = n;
    if (errors) rep.counts[split + "/errors"] = errors;
    if (n == 0) problem("split " + split + ": no samples found under " + root);
  }
  if (hidden) rep.problems.push_back("... and " + std::to_string(hidden) + " more problems");
  return rep;
}

SampleSelection SampleSelection::parse(const std::string& shard, int64_t limit) {
  SampleSelection sel;
  sel.limit = limit;
  MVB_USAGE_CHECK(limit >= -1, "invalid --limit ", limit, "; use a positive count (or omit it for all samples)");
  if (shard.empty()) return sel;
  const auto parts = split(shard, '/');
  bool ok = parts.size() == 2 && !parts[0].empty() && !parts[1].empty() &&
            parts[0].find_first_not_of("0123456789") == std::string::npos &&
            parts[1].find_first_not_of("0123456789") == std::string::npos;
  if (ok) {
    sel.shard_index = std::stoi(parts[0]);
    sel.shard_count = std::stoi(parts[1]);
    ok = sel.shard_count >= 1 && sel.shard_index < sel.shard_count;
  }
  MVB_USAGE_CHECK(ok, "invalid --shard '", shard, "'; use i/n with 0 <= i < n, e.g. --shard 0/4");
  return sel;
}

namespace {
// A Slurm integer variable, or `fallback` when unset.
int64_t slurm_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  const std::string s(v);
  MVB_USAGE_CHECK(s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10, "environment variable ",
                  name, "=", s, " is not a count; unset it or pass --shard i/n");
  return std::stoll(s);
}
}  // namespace

std::string shard_from_environment(const std::string& shard, std::string* source) {
  if (!shard.empty()) {
    if (source) *source = "--shard";
    return shard;
  }
  // An array whose tasks are not shards of one evaluation (a sweep: one preset per task) opts out.
  const char* opt_out = std::getenv("MVB_SLURM_SHARD");
  const bool off = opt_out && std::string(opt_out) == "0";
  const int64_t id = off ? -1 : slurm_int("SLURM_ARRAY_TASK_ID", -1);
  const int64_t count = off ? -1 : slurm_int("SLURM_ARRAY_TASK_COUNT", -1);
  if (id < 0 || count < 1) {
    if (source) source->clear();
    return "";
  }
  const int64_t min = slurm_int("SLURM_ARRAY_TASK_MIN", 0),
                step = std::max<int64_t>(1, slurm_int("SLURM_ARRAY_TASK_STEP", 1));
  const int64_t index = (id - min) / step;
  MVB_USAGE_CHECK(id >= min && (id - min) % step == 0 && index < count, "SLURM_ARRAY_TASK_ID=", id,
                  " is not one of the ", count, " array tasks from SLURM_ARRAY_TASK_MIN=", min, " in steps of ", step,
                  "; pass --shard i/n");
  if (source)
    *source = "SLURM_ARRAY_TASK_ID=" + std::to_string(id) + " of SLURM_ARRAY_TASK_COUNT=" + std::to_string(count) +
              (min ? " from SLURM_ARRAY_TASK_MIN=" + std::to_string(min) : "") +
              (step > 1 ? " step " + std::to_string(step) : "");
  return std::to_string(index) + "/" + std::to_string(count);
}

namespace {
class SelectingReader : public SampleReader {
 public:
  SelectingReader(std::unique_ptr<SampleReader> inner, SampleSelection sel) : inner_(std::move(inner)), sel_(sel) {}
  bool next(Sample& out) override {
    if (sel_.limit >= 0 && emitted_ >= sel_.limit) return false;
    // Samples outside the shard are skipped without building them when the loader allows it.
    auto* skippable = dynamic_cast<SkippableSampleReader*>(inner_.get());
    for (;;) {
      const int64_t pos = position_;
      if (pos % sel_.shard_count != sel_.shard_index) {
        if (!(skippable ? skippable->skip() : inner_->next(out))) return false;
        ++position_;
        continue;
      }
      if (!inner_->next(out)) return false;
      ++position_;
      ++emitted_;
      return true;
    }
  }
  int64_t size_hint() const override {
    const int64_t n = inner_->size_hint();
    if (n < 0) return n;
    int64_t in_shard = n / sel_.shard_count + (sel_.shard_index < n % sel_.shard_count ? 1 : 0);
    return sel_.limit >= 0 ? std::min(in_shard, sel_.limit) : in_shard;
  }

 private:
  std::unique_ptr<SampleReader> inner_;
  SampleSelection sel_;
  int64_t position_ = 0;
  int64_t emitted_ = 0;
};
}  // namespace

std::unique_ptr<SampleReader> select_samples(std::unique_ptr<SampleReader> reader, const SampleSelection& sel) {
  if (sel.shard_count == 1 && sel.limit < 0) return reader;
  return std::make_unique<SelectingReader>(std::move(reader), sel);
}

}  // namespace mvb
