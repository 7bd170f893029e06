// ChestXray (Kermany et al. pediatric pneumonia): {root}/{split}/{NORMAL|PNEUMONIA}/<image>.
// Labels 0 NORMAL / 1 PNEUMONIA; class texts exactly as the reference (note the leading space in
// " chest xray with pneumonia", which feeds zero-shot prompts verbatim).
#include <algorithm>
#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/files.h"

namespace fs = std::filesystem;

namespace mvb {
namespace {

class ChestXrayDataset : public Dataset {
 public:
  ChestXrayDataset() {
    info_.name = "ChestXray";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"chest xray with no finding", " chest xray with pneumonia"};
    info_.modality = "radiology";
    info_.layout =
        "{image_path}/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg (Kermany chest_xray release; "
        "'validation' reads val/)";
    info_.description = "Pediatric chest X-ray pneumonia (Kermany 2018), binary";
  }
  const DatasetInfo& info() const override { return info_; }

  std::unique_ptr<SampleReader> open(const DatasetRequest& req) const override {
    std::vector<std::string> folders;
    if (req.split == "all")
      folders = {"train", "val", "test"};
    else if (req.split == "validation")
      folders = {"val"};
    else
      folders = {req.split};
    std::vector<Sample> samples;
    bool any = false;
    for (const auto& folder : folders) {
      const std::string split_dir = io::join_path(req.root, folder);
      if (!io::is_directory(split_dir)) {
        if (req.split == "all") continue;  // "all" takes whichever splits exist
        throw Error("ChestXray: missing folder " + split_dir + "; expected layout " + info_.layout);
      }
      any = true;
      static const char* kClassDirs[] = {"NORMAL", "PNEUMONIA"};
      for (int label = 0; label < 2; ++label) {
        const std::string class_dir = io::join_path(split_dir, kClassDirs[label]);
        MVB_CHECK(io::is_directory(class_dir), "ChestXray: missing folder ", class_dir, "; expected layout ",
                  info_.layout);
        std::vector<std::string> files;
        for (const auto& e : fs::directory_iterator(class_dir)) {
          if (!e.is_regular_file()) continue;
          const std::string ext = to_lower(e.path().extension().string());
          if (ext == ".jpeg" || ext == ".jpg" || ext == ".png") files.push_back(e.path().filename().string());
        }
        std::sort(files.begin(), files.end());  // directory order is not stable across filesystems
        for (const auto& f : files) {
          Sample s;
          s.split = folder;
          s.id = folder + "/" + kClassDirs[label] + "/" + f;
          s.images.push_back(ImageRef::file(io::join_path(class_dir, f)));
          s.labels = {label};
          s.modality = info_.modality;
          samples.push_back(std::move(s));
        }
      }
    }
    MVB_CHECK(any, "ChestXray: no split folders under ", req.root, "; expected layout ", info_.layout);
    return std::make_unique<VectorSampleReader>(std::move(samples));
  }

 private:
  DatasetInfo info_;
};

}  // namespace

MVB_REGISTER(dataset_registry(), "ChestXray", DatasetEntry{[] { return std::make_unique<ChestXrayDataset>(); }});

}  // namespace mvb
