// MedXpertQA, multimodal subset (Zuo et al. 2025). As the reference (development repo): records in
// {image_path}/MM/{subset}.jsonl, images in {image_path}/images/. train -> cus_train_fold0,
// test -> cus_test_fold0, all -> test (the official 2,000 questions). Each record has question
// (which already lists "Answer Choices:"), options {letter: text}, label (a letter) and images (a
// list: several images per question are common). Prompt = question + the single-letter suffix.
#include <fstream>

#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class MedXpertQaDataset : public LoaderBase {
 public:
  MedXpertQaDataset() {
    info_.name = "MedXpertQA";
    info_.tasks = {"vqa"};
    info_.splits = {"train", "test", "all"};
    info_.modality = "multi-modal";
    info_.results_modality = "medical";
    info_.layout =
        "{image_path}/MM/{cus_train_fold0,cus_test_fold0,test}.jsonl (train, test, all) with fields question, "
        "options, label, images; images in {image_path}/images/";
    info_.description = "MedXpertQA MM: expert-level multiple-choice questions (options A-E), often multi-image";
  }

  std::vector<std::string> check_splits(const std::string&) const override { return {"train", "test", "all"}; }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    parts_of(req.split, {});
    const std::string subset = req.split == "train"  ? "cus_train_fold0"
                               : req.split == "test" ? "cus_test_fold0"
                                                     : "test";
    const std::string ann = io::join_path(io::join_path(req.root, "MM"), subset + ".jsonl");
    if (!io::exists(ann)) fail("missing annotation file " + ann);
    const std::string image_root = io::join_path(req.root, "images");
    std::ifstream f(ann);
    std::vector<Sample> samples;
    std::string line;
    for (int64_t n = 1; std::getline(f, line); ++n) {
      if (trim(line).empty()) continue;
      const std::string where = ann + " line " + std::to_string(n);
      nlohmann::json r;
      try {
        r = nlohmann::json::parse(line);
      } catch (const std::exception&) {
        samples.push_back(error_sample(req.split + "/line" + std::to_string(n), req.split, where + ": invalid JSON"));
        continue;
      }
      const std::string id = r.is_object() && r.contains("id") ? json_str(r["id"]) : "line" + std::to_string(n);
      std::string missing;
      for (const char* k : {"question", "options", "label", "images"})
        if (!r.is_object() || !r.contains(k) || r[k].is_null()) missing += missing.empty() ? k : std::string(", ") + k;
      if (!missing.empty()) {
        samples.push_back(error_sample(id, req.split, where + " lacks field(s) " + missing));
        continue;
      }
      if (!r["options"].is_object() || !r["images"].is_array() || r["images"].empty()) {
        samples.push_back(
            error_sample(id, req.split, where + ": options must be an object and images a non-empty list"));
        continue;
      }
      Sample s;
      s.id = id;
      s.split = req.split;
      std::string err;
      for (const auto& im : r["images"]) {
        const std::string p = existing_within(image_root, json_str(im), &err);
        if (p.empty()) break;
        s.images.push_back(ImageRef::file(p));
      }
      if (!err.empty()) {
        samples.push_back(error_sample(id, req.split, err));
        continue;
      }
      s.question = trim(json_str(r["question"]));
      s.answer = trim(json_str(r["label"]));
      s.prompt = s.question + kSingleLetterSuffix;
      s.question_type = "multi-choice";
      for (const auto& [letter, text] : r["options"].items()) s.choices.push_back({letter, json_str(text)});
      std::sort(s.choices.begin(), s.choices.end(),
                [](const Choice& a, const Choice& b) { return a.letter < b.letter; });
      bool answer_is_option = false;
      for (const auto& c : s.choices) answer_is_option = answer_is_option || c.letter == s.answer;
      if (!answer_is_option) {
        samples.push_back(
            error_sample(id, req.split, where + ": label '" + s.answer + "' is not one of the option letters"));
        continue;
      }
      s.modality = info_.modality;
      s.metadata["subset"] = subset;
      std::vector<std::string> paths;
      for (const auto& im : s.images) paths.push_back(im.path);
      s.metadata["reference_image_path"] = join(paths, ";");  // the reference's image_path field
      for (const char* k : {"medical_task", "body_system", "question_type"})
        if (r.contains(k)) s.metadata[k] = r[k];
      samples.push_back(std::move(s));
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "MedXpertQA", DatasetEntry{[] { return std::make_unique<MedXpertQaDataset>(); }});

}  // namespace mvb::datasets
