// MIMIC-CXR report generation in the R2Gen layout the reference reads: {image_path}/annotation.json =
// {"train": [...], "val": [...], "test": [...]}, each item {id, report, image_path: [relative paths]},
// images under {image_path}/images/. The first image of each study is used, as in the reference.
// "validation" reads "val" (the reference's split check makes it unreachable there); "all" is
// train + val + test.
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class MimicCxrDataset : public LoaderBase {
 public:
  MimicCxrDataset() {
    info_.name = "MIMIC_CXR";
    info_.tasks = {"caption"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.modality = "radiology";
    info_.results_modality = "Chest Xray";
    info_.layout =
        "{image_path}/annotation.json ({train,val,test}: [{id, report, image_path: [...]}], R2Gen style) and "
        "{image_path}/images/<image_path[0]>";
    info_.description = "MIMIC-CXR chest X-ray report generation (R2Gen annotation)";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string ann = io::join_path(req.root, "annotation.json");
    if (!io::exists(ann)) fail("missing " + ann);
    const nlohmann::json all = io::read_json(ann);
    if (!all.is_object()) fail(ann + " is not a JSON object of splits");
    const std::string image_root = io::join_path(req.root, "images");
    std::vector<Sample> samples;
    for (const auto& part : parts_of(req.split, {"train", "validation", "test"})) {
      const std::string key = part == "validation" ? "val" : part;
      if (!all.contains(key) || !all[key].is_array()) fail(ann + " has no list \"" + key + "\"");
      const auto& items = all[key];
      for (size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        const std::string id =
            part + "/" + (it.is_object() && it.contains("id") ? json_str(it["id"]) : std::to_string(i));
        const std::string where = ann + " " + key + "[" + std::to_string(i) + "]";
        if (!it.is_object() || !it.contains("report") || !it["report"].is_string() || !it.contains("image_path") ||
            !it["image_path"].is_array() || it["image_path"].empty()) {
          samples.push_back(error_sample(id, part, where + " lacks report or a non-empty image_path list"));
          continue;
        }
        Sample s;
        if (!start_image_sample(s, samples, id, part, image_root, json_str(it["image_path"][0]))) continue;
        s.question = s.prompt = kCaptionPrompt;
        s.answer = it["report"].get<std::string>();
        s.question_type = "caption";
        s.modality = info_.modality;
        for (const char* k : {"study_id", "subject_id"})
          if (it.contains(k)) s.metadata[k] = it[k];
        samples.push_back(std::move(s));
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "MIMIC_CXR", DatasetEntry{[] { return std::make_unique<MimicCxrDataset>(); }});

}  // namespace mvb::datasets
