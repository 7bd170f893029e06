#include "common.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/core/utf8.h"
#include "medvlmbench/io/files.h"

namespace fs = std::filesystem;

namespace mvb::datasets {

const char* const kYesNoPrefix = "Answer the following question about the image with yes or no. ";
const char* const kSingleLetterSuffix = "\nAnswer with the single letter corresponding to the best choice.";
const char* const kCaptionPrompt = "Can you provide a medical report for this image?";

std::vector<std::string> LoaderBase::parts_of(const std::string& split,
                                              const std::vector<std::string>& all_parts) const {
  MVB_USAGE_CHECK(std::find(info_.splits.begin(), info_.splits.end(), split) != info_.splits.end(), "invalid split '",
                  split, "' for ", info_.name, "; valid splits: ", join(info_.splits, ", "));
  if (split == "all") return all_parts;
  return {split};
}

std::unique_ptr<SampleReader> LoaderBase::open(const DatasetRequest& req) const {
  try {
    return load(req);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find("expected layout") != std::string::npos) throw;
    throw Error(info_.name + ": " + what + "; expected layout: " + info_.layout);
  }
}

void LoaderBase::fail(const std::string& what) const {
  throw Error(info_.name + ": " + what + "; expected layout: " + info_.layout);
}

LazySampleReader::LazySampleReader(std::vector<Sample> stubs, Materialize materialize)
    : stubs_(std::move(stubs)), materialize_(std::move(materialize)) {
  unique_sample_ids(stubs_);
}

bool LazySampleReader::next(Sample& out) {
  if (pos_ >= stubs_.size()) return false;
  const size_t index = pos_++;
  out = std::move(stubs_[index]);
  if (materialize_ && out.error.empty()) {
    try {
      materialize_(index, out);
    } catch (const Error& e) {
      out.images.clear();
      out.error = e.what();
    }
  }
  sanitize_sample_text(out);
  return true;
}

void unique_sample_ids(std::vector<Sample>& samples) {
  std::unordered_set<std::string> original;
  for (auto& s : samples) {
    s.id = utf8_escape_invalid(s.id);
    original.insert(s.id);
  }
  std::unordered_set<std::string> taken;
  taken.reserve(samples.size());
  for (auto& s : samples) {
    if (taken.insert(s.id).second) continue;
    // A repeat: the first "#k" that is neither an id of this split nor given out already. Depends
    // only on the ids in dataset order, so the same folder gives the same ids on every run.
    for (int k = 2;; ++k) {
      std::string candidate = s.id + "#" + std::to_string(k);
      if (!original.count(candidate) && taken.insert(candidate).second) {
        s.id = std::move(candidate);
        break;
      }
    }
  }
}

namespace {
void sanitize_json_strings(nlohmann::json& j) {
  if (j.is_string()) {
    const std::string& v = j.get_ref<const std::string&>();
    if (!is_valid_utf8(v)) j = utf8_replace_invalid(v);
  } else if (j.is_structured()) {
    if (j.is_object()) {
      // Keys too: rebuild the object only when one of them is invalid (rare).
      bool bad_key = false;
      for (auto it = j.begin(); it != j.end(); ++it) bad_key = bad_key || !is_valid_utf8(it.key());
      if (bad_key) {
        nlohmann::json fixed = nlohmann::json::object();
        for (auto it = j.begin(); it != j.end(); ++it) fixed[utf8_replace_invalid(it.key())] = it.value();
        j = std::move(fixed);
      }
    }
    for (auto& v : j) sanitize_json_strings(v);
  }
}
void sanitize(std::string& s) {
  if (!is_valid_utf8(s)) s = utf8_replace_invalid(s);
}
}  // namespace

void sanitize_sample_text(Sample& s) {
  s.id = utf8_escape_invalid(s.id);
  for (std::string* t : {&s.split, &s.question, &s.prompt, &s.answer, &s.question_type, &s.modality, &s.error})
    sanitize(*t);
  for (auto& c : s.choices) {
    sanitize(c.letter);
    sanitize(c.text);
  }
  sanitize_json_strings(s.metadata);
}

bool is_yes_no(const std::string& answer) {
  const std::string a = to_lower(answer);
  return a == "yes" || a == "no";
}

std::string vqa_prompt(const std::string& question, const std::string& answer) {
  return is_yes_no(answer) ? std::string(kYesNoPrefix) + question : question;
}

std::string join_within(const std::string& root, const std::string& rel, std::string* error) {
  const std::string p = io::join_path(root, rel);
  if (rel.empty() || !io::is_within(root, p) || fs::path(rel).is_absolute()) {
    *error = "path '" + rel + "' escapes the data root " + root + " (annotation paths must be relative, without ..)";
    return "";
  }
  return p;
}

std::string existing_within(const std::string& root, const std::string& rel, std::string* error,
                            const std::string& missing) {
  const std::string p = join_within(root, rel, error);
  if (p.empty()) return "";
  if (!io::exists(p)) {
    // A link whose target is gone, or that points at itself (ELOOP), is named as such: the file
    // "exists" in a directory listing, so "missing" alone would puzzle.
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(p, ec))) {
      const std::string target = fs::read_symlink(p, ec).string();
      *error = "broken symbolic link " + p + " -> " + target + " (its target is missing or the link loops)";
    } else {
      *error = missing + " " + p;
    }
    return "";
  }
  return p;
}

bool start_image_sample(Sample& s, std::vector<Sample>& out, const std::string& id, const std::string& split,
                        const std::string& root, const std::string& rel, const std::string& missing) {
  std::string err;
  const std::string img = existing_within(root, rel, &err, missing);
  if (img.empty()) {
    out.push_back(error_sample(id, split, err));
    return false;
  }
  s.id = id;
  s.split = split;
  s.images.push_back(ImageRef::file(img));
  return true;
}

std::string first_existing(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates)
    if (!c.empty() && io::exists(c)) return c;
  return "";
}

std::string parent_dir(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (!p.has_parent_path() || p.parent_path() == p) return fs::absolute(p).parent_path().string();
  return p.parent_path().string();
}

std::vector<std::string> list_files(const std::string& dir, const std::vector<std::string>& exts) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    // Symbolic links are listed whatever they point at: a dangling or self-referencing link becomes
    // that sample's error row (existing_within words it) instead of vanishing from the split or
    // throwing ELOOP out of the whole listing. A link to a folder is not an image and is left out.
    std::error_code fec;
    const bool link = e.is_symlink(fec);
    if (link ? fs::is_directory(e.path(), fec) : !e.is_regular_file(fec)) continue;
    const std::string ext = to_lower(e.path().extension().string());
    if (exts.empty() || std::find(exts.begin(), exts.end(), ext) != exts.end())
      out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());  // directory order differs between filesystems
  return out;
}

std::string json_str(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e16)
      return std::to_string(static_cast<long long>(d)) + ".0";
    return v.dump();
  }
  return v.dump();
}

bool parse_int(const std::string& text, long long* out) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  try {
    size_t used = 0;
    const double d = std::stod(t, &used);
    if (used != t.size() || !std::isfinite(d) || d != std::floor(d)) return false;
    *out = static_cast<long long>(d);
    return true;
  } catch (...) {
    return false;
  }
}

void add_image_sample(std::vector<Sample>& out, const std::string& id, const std::string& split,
                      const std::string& base, const std::string& rel, int label, const std::string& modality) {
  Sample s;
  if (!start_image_sample(s, out, id, split, base, rel)) return;
  s.labels = {label};
  s.modality = modality;
  out.push_back(std::move(s));
}

std::string find_split_csv(const std::string& dir, const std::string& prefix, const std::string& part) {
  std::vector<std::string> c = {io::join_path(dir, prefix + part + ".csv")};
  if (part == "validation") c.push_back(io::join_path(dir, prefix + "val.csv"));
  return first_existing(c);
}

std::string split_csv_names(const std::string& dir, const std::string& prefix, const std::string& part) {
  std::string out = io::join_path(dir, prefix + part + ".csv");
  if (part == "validation") out += " (or " + prefix + "val.csv)";
  return out;
}

std::string csv_row(const std::string& file, size_t r) { return file + " row " + std::to_string(r + 2); }

Sample error_sample(const std::string& id, const std::string& split, const std::string& error) {
  Sample s;
  s.id = id;
  s.split = split;
  s.error = error;
  return s;
}

std::shared_ptr<const PixelBuffer> pixels_from_array(const io::NpyArray& a, int64_t index, const std::string& what) {
  std::vector<int64_t> shape = a.shape;
  int64_t offset = 0;
  if (index >= 0) {
    MVB_CHECK(!shape.empty() && index < shape[0], what, ": index ", index, " out of range");
    shape.erase(shape.begin());
  }
  MVB_CHECK(shape.size() == 2 || (shape.size() == 3 && (shape[2] == 1 || shape[2] == 3)), what,
            ": expected an image array of shape (H, W) or (H, W, 3), got ", shape.size(), " dimensions");
  auto buf = std::make_shared<PixelBuffer>();
  buf->height = static_cast<int>(shape[0]);
  buf->width = static_cast<int>(shape[1]);
  buf->channels = shape.size() == 3 ? static_cast<int>(shape[2]) : 1;
  const int64_t n = static_cast<int64_t>(buf->height) * buf->width * buf->channels;
  if (index >= 0) offset = index * n;
  buf->data.resize(n);
  if (a.kind == 'u' && a.item_size == 1) {
    std::copy(a.data.begin() + offset, a.data.begin() + offset + n, buf->data.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const double v = a.get_double(offset + i);
      buf->data[i] = static_cast<uint8_t>(std::isfinite(v) ? std::clamp(v, 0.0, 255.0) : 0.0);
    }
  }
  return buf;
}

std::shared_ptr<const PixelBuffer> pixels_from_npz(const std::string& path, const std::string& key) {
  MVB_CHECK(io::exists(path), "missing image array file ", path);
  const io::NpzFile npz(path);
  return pixels_from_array(npz.read(key), -1, path + ":" + key);
}

}  // namespace mvb::datasets
