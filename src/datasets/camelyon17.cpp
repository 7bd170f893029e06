// Camelyon17 patches (WILDS camelyon17_v1.0, Bandi et al. 2019), the reference's fixed subsets:
// sample3680_train_metadata.csv for train and sample920_test_metadata.csv for every other split,
// columns patient, node, x_coord, y_coord, tumor. The reference reads them from
// ./data/camelyon17_v1.0/ of its checkout; here they are looked up in --image_path, its parent and
// ./data/camelyon17_v1.0/. "validation" and "all" read the test subset too, as the reference does. Images:
// {patches}/patient_{PPP}_node_{N}/patch_patient_{PPP}_node_{N}_x_{X}_y_{Y}.png where {patches} is --image_path or its
// patches/ folder.
#include <cstdio>

#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class Camelyon17Dataset : public LoaderBase {
 public:
  Camelyon17Dataset() {
    info_.name = "Camelyon17";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"negative tumor", "positive tumor"};
    info_.modality = "pathology";
    info_.results_modality = "image";
    info_.layout =
        "sample3680_train_metadata.csv and sample920_test_metadata.csv (patient, node, x_coord, y_coord, tumor) in "
        "{image_path}, its parent or ./data/camelyon17_v1.0/; patches at {image_path}[/patches]/patient_PPP_node_N/"
        "patch_patient_PPP_node_N_x_X_y_Y.png";
    info_.description = "Camelyon17 lymph-node histology patches, tumor vs no tumor (reference subsets 3680/920)";
  }

  // validation reads the test subset, as in the reference.
  std::vector<std::string> check_splits(const std::string&) const override { return {"train", "test"}; }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string patches =
        io::is_directory(io::join_path(req.root, "patches")) ? io::join_path(req.root, "patches") : req.root;
    std::vector<Sample> samples;
    // The reference reads the train subset for "train" and the test subset for every other split name,
    // "all" included (defect 12: "all" used to be train + test here).
    parts_of(req.split, {"train", "test"});  // validates the name
    for (const std::string part : {req.split == "train" ? "train" : "test"}) {
      const std::string name = part == "train" ? "sample3680_train_metadata.csv" : "sample920_test_metadata.csv";
      const std::string csv = first_existing({io::join_path(req.root, name), io::join_path(parent_dir(req.root), name),
                                              io::join_path("data/camelyon17_v1.0", name)});
      if (csv.empty()) fail("missing " + name);
      const io::CsvTable t = io::read_csv(csv);
      const int pc = t.require_column("patient"), nc = t.require_column("node"), xc = t.require_column("x_coord"),
                yc = t.require_column("y_coord"), tc = t.require_column("tumor");
      for (size_t r = 0; r < t.rows.size(); ++r) {
        const std::string id = part + "/" + std::to_string(r);
        long long patient, node, x, y, tumor;
        if (!parse_int(t.cell(r, pc), &patient) || !parse_int(t.cell(r, nc), &node) || !parse_int(t.cell(r, xc), &x) ||
            !parse_int(t.cell(r, yc), &y)) {
          samples.push_back(
              error_sample(id, part, csv_row(csv, r) + ": patient/node/x_coord/y_coord must be integers"));
          continue;
        }
        if (!parse_int(t.cell(r, tc), &tumor) || (tumor != 0 && tumor != 1)) {
          samples.push_back(error_sample(
              id, part, csv_row(csv, r) + ": unknown tumor label '" + t.cell(r, tc) + "' (expected 0 or 1)"));
          continue;
        }
        char dir[64], file[160];
        std::snprintf(dir, sizeof dir, "patient_%03lld_node_%lld", patient, node);
        std::snprintf(file, sizeof file, "patch_patient_%03lld_node_%lld_x_%lld_y_%lld.png", patient, node, x, y);
        add_image_sample(samples, id, part, patches, std::string(dir) + "/" + file, static_cast<int>(tumor),
                         info_.modality);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "Camelyon17", DatasetEntry{[] { return std::make_unique<Camelyon17Dataset>(); }});

}  // namespace mvb::datasets
