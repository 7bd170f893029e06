// PAPILA fundus images (Kovalyk et al. 2022) in the binary split the reference reads:
// {image_path}/PAPILA/split/new_{split}.csv (Diagnosis 0/1, Path) with images at
// {image_path}/PAPILA/data/FundusImages/{Path}.
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class PapilaDataset : public LoaderBase {
 public:
  PapilaDataset() {
    info_.name = "PAPILA";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"benign fundus", "glaucoma fundus"};
    info_.modality = "ophthalmology";
    info_.results_modality = "image";
    info_.layout =
        "{image_path}/PAPILA/split/new_{train,val,test}.csv (Diagnosis, Path) and "
        "{image_path}/PAPILA/data/FundusImages/{Path}";
    info_.description = "PAPILA fundus photographs, glaucoma vs benign";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string base = io::join_path(req.root, "PAPILA");
    const std::string images = io::join_path(io::join_path(base, "data"), "FundusImages");
    std::vector<Sample> samples;
    for (const auto& part : parts_of(req.split, {"train", "validation", "test"})) {
      const std::string csv = find_split_csv(io::join_path(base, "split"), "new_", part);
      if (csv.empty()) fail("missing " + split_csv_names(io::join_path(base, "split"), "new_", part));
      const io::CsvTable t = io::read_csv(csv);
      const int dc = t.require_column("Diagnosis"), pc = t.require_column("Path");
      for (size_t r = 0; r < t.rows.size(); ++r) {
        const std::string id = part + "/" + t.cell(r, pc);
        long long d;
        if (!parse_int(t.cell(r, dc), &d) || (d != 0 && d != 1)) {
          samples.push_back(error_sample(
              id, part, csv_row(csv, r) + ": unknown Diagnosis '" + t.cell(r, dc) + "' (expected 0 or 1)"));
          continue;
        }
        add_image_sample(samples, id, part, images, t.cell(r, pc), static_cast<int>(d), info_.modality);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "PAPILA", DatasetEntry{[] { return std::make_unique<PapilaDataset>(); }});

}  // namespace mvb::datasets
