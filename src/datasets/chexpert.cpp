// CheXpert (Irvin et al. 2019), the downsampled release CheXpert-v1.0-small, as the reference reads
// it: test -> valid.csv, any other split -> train.csv (so "validation" is the training list, as
// there, and "all" too). Image = {image_path}/{Path}. Label 1 ("normal xray") iff
// "No Finding" == 1; 0, -1 (uncertain) and empty all become 0 ("diseased xray").
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class CheXpertDataset : public LoaderBase {
 public:
  CheXpertDataset() {
    info_.name = "CheXpert";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"diseased xray", "normal xray"};
    info_.modality = "radiology";
    info_.results_modality = "image";
    info_.layout =
        "{image_path}/CheXpert-v1.0-small/{train,valid}.csv (Path, No Finding, ...) with images at "
        "{image_path}/{Path} (Path starts with CheXpert-v1.0-small/)";
    info_.description = "CheXpert chest X-ray, No Finding vs any finding";
  }

  std::vector<std::string> check_splits(const std::string&) const override { return {"train", "test"}; }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    std::vector<Sample> samples;
    // The reference's rule for every split name, "all" included (defect 12: "all" used to add valid.csv).
    parts_of(req.split, {"train", "test"});  // validates the name
    for (const std::string part : {req.split == "test" ? "test" : "train"}) {
      const std::string csv =
          io::join_path(io::join_path(req.root, "CheXpert-v1.0-small"), part == "test" ? "valid.csv" : "train.csv");
      if (!io::exists(csv)) fail("missing " + csv);
      const io::CsvTable t = io::read_csv(csv);
      const int pc = t.require_column("Path"), nf = t.require_column("No Finding");
      for (size_t r = 0; r < t.rows.size(); ++r) {
        const std::string id = part + "/" + t.cell(r, pc);
        const std::string v = trim(t.cell(r, nf));
        long long x = 0;
        if (!io::is_pandas_na(v) && (!parse_int(v, &x) || (x != 1 && x != 0 && x != -1))) {
          samples.push_back(error_sample(
              id, part, csv_row(csv, r) + ": unknown No Finding value '" + v + "' (expected 1, 0, -1 or empty)"));
          continue;
        }
        add_image_sample(samples, id, part, req.root, t.cell(r, pc), x == 1 ? 1 : 0, info_.modality);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "CheXpert", DatasetEntry{[] { return std::make_unique<CheXpertDataset>(); }});

}  // namespace mvb::datasets
