// ChestXray (Kermany et al. 2018 pediatric pneumonia): {root}/{split}/{NORMAL|PNEUMONIA}/<image>.
// Labels 0 NORMAL / 1 PNEUMONIA; class texts exactly as the reference (note the leading space in
// " chest xray with pneumonia", which feeds zero-shot prompts verbatim). The reference lists the
// folders with os.listdir (filesystem order); files are sorted here so runs are reproducible.
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class ChestXrayDataset : public LoaderBase {
 public:
  ChestXrayDataset() {
    info_.name = "ChestXray";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"chest xray with no finding", " chest xray with pneumonia"};
    info_.modality = "radiology";
    info_.results_modality = "image";
    info_.layout =
        "{image_path}/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg (Kermany chest_xray release; "
        "'validation' reads val/)";
    info_.description = "Pediatric chest X-ray pneumonia (Kermany 2018), binary";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    std::vector<Sample> samples;
    bool any = false;
    for (const auto& part : parts_of(req.split, {"train", "validation", "test"})) {
      const std::string folder = part == "validation" ? "val" : part;
      const std::string split_dir = io::join_path(req.root, folder);
      if (!io::is_directory(split_dir)) {
        if (req.split == "all") continue;  // "all" takes whichever splits exist
        fail("missing folder " + split_dir);
      }
      any = true;
      static const char* kClassDirs[] = {"NORMAL", "PNEUMONIA"};
      for (int label = 0; label < 2; ++label) {
        const std::string class_dir = io::join_path(split_dir, kClassDirs[label]);
        if (!io::is_directory(class_dir)) fail("missing folder " + class_dir);
        for (const auto& f : list_files(class_dir, {".jpeg", ".jpg", ".png"}))
          add_image_sample(samples, folder + "/" + kClassDirs[label] + "/" + f, folder, class_dir, f, label,
                           info_.modality);
      }
    }
    if (!any) fail("no split folders under " + req.root);
    return std::make_unique<LazySampleReader>(std::move(samples));
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "ChestXray", DatasetEntry{[] { return std::make_unique<ChestXrayDataset>(); }});

}  // namespace mvb::datasets
