// OmniMedVQA (Hu et al. 2024), as the reference (development repo) reads it: question records in
// {root}/QA_information/{Open-access,Restricted-access}/*.json (root = --image_path, or its one
// sub-folder holding QA_information), image_path relative to root, options option_A..option_D.
// Split membership comes from {root}/omnimedvqa_{train,test}_index.jsonl (validation reuses train;
// all = every record). The answer is the letter whose option text equals gt_answer (case-insensitive),
// else gt_answer itself. Prompt = question, "Options:", "(A) text" lines, the single-letter suffix.
#include <fstream>
#include <unordered_set>

#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class OmniMedVqaDataset : public LoaderBase {
 public:
  OmniMedVqaDataset() {
    info_.name = "OmniMedVQA";
    info_.tasks = {"vqa"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.modality = "multi-modal";
    info_.results_modality = "medical";
    info_.layout =
        "{image_path}/QA_information/{Open-access,Restricted-access}/*.json (records question_id, image_path, "
        "question, gt_answer, option_A..D) + {image_path}/omnimedvqa_{train,test}_index.jsonl, images under "
        "{image_path}/ at each record's image_path";
    info_.description = "OmniMedVQA: multiple-choice medical VQA over 12 modalities (options A-D)";
  }

  std::vector<std::string> check_splits(const std::string&) const override { return {"train", "test"}; }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    parts_of(req.split, {});
    std::string root = req.root;
    if (!io::is_directory(io::join_path(root, "QA_information"))) {
      std::string nested;
      for (const auto& e : sorted_subdirs(root))
        if (io::is_directory(io::join_path(e, "QA_information"))) {
          nested = e;
          break;
        }
      if (nested.empty()) fail("no QA_information folder in " + root + " or its sub-folders");
      root = nested;
    }
    std::unordered_set<std::string> index;
    const bool filter = req.split != "all";
    if (filter) index = read_index(root, req.split == "test" ? "test" : "train");

    std::vector<Sample> samples;
    for (const std::string access : {"Open-access", "Restricted-access"}) {
      const std::string dir = io::join_path(io::join_path(root, "QA_information"), access);
      if (!io::is_directory(dir)) continue;
      for (const auto& file : list_files(dir, {".json"})) {
        const std::string ann = io::join_path(dir, file);
        const nlohmann::json records = io::read_json(ann);
        if (!records.is_array()) fail(ann + " is not a JSON list of question records");
        for (size_t i = 0; i < records.size(); ++i)
          add_record(root, ann, i, records[i], access, filter, index, req.split, samples);
      }
    }
    if (samples.empty()) fail("no OmniMedVQA records found for split " + req.split + " under " + root);
    return std::make_unique<LazySampleReader>(std::move(samples));
  }

 private:
  static std::vector<std::string> sorted_subdirs(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_directory()) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unordered_set<std::string> read_index(const std::string& root, const std::string& which) const {
    const std::string path = io::join_path(root, "omnimedvqa_" + which + "_index.jsonl");
    if (!io::exists(path)) fail("missing split index " + path);
    std::ifstream f(path);
    std::unordered_set<std::string> ids;
    std::string line;
    while (std::getline(f, line)) {
      try {
        const auto j = nlohmann::json::parse(line);
        if (j.is_object() && j.contains("question_id") && !j["question_id"].is_null())
          ids.insert(json_str(j["question_id"]));
      } catch (const std::exception&) {
        // The reference skips unparsable index lines.
      }
    }
    if (ids.empty()) fail("split index " + path + " lists no question_id");
    return ids;
  }

  void add_record(const std::string& root, const std::string& ann, size_t i, const nlohmann::json& r,
                  const std::string& access, bool filter, const std::unordered_set<std::string>& index,
                  const std::string& split, std::vector<Sample>& out) const {
    const std::string where = ann + " record " + std::to_string(i);
    if (!r.is_object() || !r.contains("question_id")) {
      if (!filter) out.push_back(error_sample(where, split, where + " has no question_id"));
      return;
    }
    const std::string qid = json_str(r["question_id"]);
    if (filter && !index.count(qid)) return;
    for (const char* k : {"question", "image_path"})
      if (!r.contains(k) || r[k].is_null()) {
        out.push_back(error_sample(qid, split, where + " lacks field " + k));
        return;
      }
    std::string err;
    const std::string img = join_within(root, trim(json_str(r["image_path"])), &err);
    if (img.empty()) {
      out.push_back(error_sample(qid, split, err));
      return;
    }
    if (!io::exists(img)) {
      // The reference drops records whose image is absent (the restricted-access images are a
      // separate download). Inside a split the image is expected, so say so.
      if (filter) out.push_back(error_sample(qid, split, "missing image " + img));
      return;
    }
    Sample s;
    s.id = qid;
    s.split = split;
    s.images.push_back(ImageRef::file(img));
    s.question = trim(json_str(r["question"]));
    const std::string gt = r.contains("gt_answer") ? trim(json_str(r["gt_answer"])) : "";
    std::vector<std::string> keys;
    for (const auto& [k, v] : r.items())
      if (starts_with(k, "option_")) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    std::string letter;
    std::string lines;
    for (const auto& k : keys) {
      const auto parts = mvb::split(k, '_');
      Choice c{parts.back(), trim(json_str(r[k]))};
      if (!gt.empty() && to_lower(gt) == to_lower(c.text)) letter = to_upper(c.letter);
      lines += (lines.empty() ? "" : "\n") + ("(" + c.letter + ") " + c.text);
      s.choices.push_back(std::move(c));
    }
    s.answer = letter.empty() ? gt : letter;
    s.prompt = keys.empty() ? s.question : s.question + "\nOptions:\n" + lines + kSingleLetterSuffix;
    s.question_type = "multi-choice";
    s.modality = info_.modality;
    s.metadata["gt_answer"] = gt;
    s.metadata["access_type"] = access;
    for (const char* k : {"dataset", "question_type", "modality_type"})
      if (r.contains(k)) s.metadata[k] = r[k];
    out.push_back(std::move(s));
  }

  static std::string to_upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "OmniMedVQA", DatasetEntry{[] { return std::make_unique<OmniMedVqaDataset>(); }});

}  // namespace mvb::datasets
