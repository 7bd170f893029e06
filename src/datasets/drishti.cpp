// Drishti-GS1 (Sivaswamy et al. 2014) glaucoma diagnosis, as the reference reads it:
// {image_path}/Drishti-GS1_files/Drishti-GS1_files/{Training,Test}/Images/* (train, test only), labels
// from Drishti-GS1_diagnosis.csv beside them: key = first column minus its last character, label =
// the second-to-last column (Normal -> 0, Glaucomatous -> 1); an image's key is its file name minus
// the 4-character extension. The reference registers it as "Drishti" without a task suffix, so its
// diagnosis lookup fails; here "Drishti" works with --task diagnosis.
#include <map>

#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class DrishtiDataset : public LoaderBase {
 public:
  DrishtiDataset() {
    info_.name = "Drishti";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "test", "all"};
    info_.class_texts = {"normal retina ", "glaucomatous retina"};
    info_.modality = "ophthalmology";
    info_.results_modality = "image";
    info_.layout =
        "{image_path}/Drishti-GS1_files/Drishti-GS1_files/{Training,Test}/Images/*.png and "
        "{image_path}/Drishti-GS1_files/Drishti-GS1_files/Drishti-GS1_diagnosis.csv";
    info_.description = "Drishti-GS1 fundus images, glaucomatous vs normal";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string base = io::join_path(io::join_path(req.root, "Drishti-GS1_files"), "Drishti-GS1_files");
    const std::string csv = io::join_path(base, "Drishti-GS1_diagnosis.csv");
    if (!io::exists(csv)) fail("missing " + csv);
    std::map<std::string, std::string> decision;
    const auto rows = io::read_csv_rows(csv);
    for (size_t i = 1; i < rows.size(); ++i) {
      const auto& row = rows[i];
      if (row.size() < 2 || row[0].empty()) continue;
      decision[row[0].substr(0, row[0].size() - 1)] = row[row.size() - 2];
    }
    if (decision.empty()) fail(csv + " has no label rows");
    std::vector<Sample> samples;
    for (const auto& part : parts_of(req.split, {"train", "test"})) {
      const std::string dir = io::join_path(io::join_path(base, part == "train" ? "Training" : "Test"), "Images");
      if (!io::is_directory(dir)) fail("missing folder " + dir);
      for (const auto& f : list_files(dir, {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})) {
        const std::string id = part + "/" + f;
        const std::string key = f.size() > 4 ? f.substr(0, f.size() - 4) : f;
        const auto it = decision.find(key);
        const std::string label = it == decision.end() ? "" : trim(it->second);
        if (label != "Normal" && label != "Glaucomatous") {
          samples.push_back(error_sample(id, part,
                                         it == decision.end() ? "no row for '" + key + "' in " + csv
                                                              : csv + ": unknown decision '" + label + "' for " + key +
                                                                    " (expected Normal or Glaucomatous)"));
          continue;
        }
        add_image_sample(samples, id, part, dir, f, label == "Glaucomatous", info_.modality);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "Drishti", DatasetEntry{[] { return std::make_unique<DrishtiDataset>(); }});

}  // namespace mvb::datasets
