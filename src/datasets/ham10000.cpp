// HAM10000 dermatoscopy (Tschandl et al. 2018) in the FairMedFM split layout the reference reads:
// {image_path}/HAM10000/split/{split}.csv (columns dx, image_id) and images
// {image_path}/HAM10000/HAM10000_images/{image_id}.jpg. Binary label as the reference: 1 iff dx is
// akiec or mel, 0 for the other HAM10000 diagnoses (bcc, bkl, df, nv, vasc).
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class Ham10000Dataset : public LoaderBase {
 public:
  Ham10000Dataset() {
    info_.name = "HAM10000";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"benign keratosis-like lesions", "actinic keratoses or melanoma"};
    info_.modality = "dermatology";
    info_.results_modality = "image";
    info_.layout =
        "{image_path}/HAM10000/split/{train,val,test}.csv (dx, image_id) and "
        "{image_path}/HAM10000/HAM10000_images/{image_id}.jpg";
    info_.description = "HAM10000 dermatoscopy, akiec/mel vs other lesions";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string base = io::join_path(req.root, "HAM10000");
    const std::string images = io::join_path(base, "HAM10000_images");
    std::vector<Sample> samples;
    for (const auto& part : parts_of(req.split, {"train", "validation", "test"})) {
      const std::string csv = find_split_csv(io::join_path(base, "split"), "", part);
      if (csv.empty()) fail("missing " + split_csv_names(io::join_path(base, "split"), "", part));
      const io::CsvTable t = io::read_csv(csv);
      const int dx = t.require_column("dx"), idc = t.require_column("image_id");
      for (size_t r = 0; r < t.rows.size(); ++r) {
        const std::string id = part + "/" + t.cell(r, idc);
        const std::string d = trim(t.cell(r, dx));
        static const char* kKnown[] = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};
        if (std::find(std::begin(kKnown), std::end(kKnown), d) == std::end(kKnown) || t.cell(r, idc).empty()) {
          samples.push_back(error_sample(id, part,
                                         csv_row(csv, r) + ": unknown dx '" + d +
                                             "' (expected akiec, bcc, bkl, df, mel, nv or vasc) or empty "
                                             "image_id"));
          continue;
        }
        add_image_sample(samples, id, part, images, t.cell(r, idc) + ".jpg", d == "akiec" || d == "mel" ? 1 : 0,
                         info_.modality);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "HAM10000", DatasetEntry{[] { return std::make_unique<Ham10000Dataset>(); }});

}  // namespace mvb::datasets
