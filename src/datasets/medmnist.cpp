// MedMNIST v2 2-D datasets (Yang et al. 2023) from their published .npz files:
// {image_path}/{flag}_224.npz (the size the reference uses; {flag}_128, _64 and the 28-pixel {flag}.npz
// are taken when 224 is absent) with arrays {train,val,test}_images (N,H,W[,3] uint8) and
// {split}_labels (N,1). "validation" reads val; "all" is train + val + test. The reference's own
// loader tries to download without a URL and fails; reading the npz is what it meant to do.
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

struct MedMnistSpec {
  const char* name;
  const char* flag;
  const char* modality;
  std::vector<std::string> classes;
  const char* description;
};

class MedMnistDataset : public LoaderBase {
 public:
  explicit MedMnistDataset(const MedMnistSpec& spec) : flag_(spec.flag) {
    info_.name = spec.name;
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = spec.classes;
    info_.modality = spec.modality;
    info_.results_modality = "image";
    info_.layout = std::string("{image_path}/") + flag_ + "_224.npz (or " + flag_ + "_128.npz, " + flag_ + "_64.npz, " +
                   flag_ + ".npz) with arrays {train,val,test}_images and {train,val,test}_labels";
    info_.description = spec.description;
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string path =
        first_existing({io::join_path(req.root, flag_ + "_224.npz"), io::join_path(req.root, flag_ + "_128.npz"),
                        io::join_path(req.root, flag_ + "_64.npz"), io::join_path(req.root, flag_ + ".npz")});
    if (path.empty()) fail("no " + flag_ + "_224.npz (or another MedMNIST size) in " + req.root);
    const io::NpzFile npz(path);
    std::vector<Sample> samples;
    std::vector<std::pair<std::shared_ptr<const io::NpyArray>, int64_t>> where;  // (images, row) per sample
    for (const auto& part : parts_of(req.split, {"train", "validation", "test"})) {
      const std::string key = part == "validation" ? "val" : part;
      auto images = std::make_shared<const io::NpyArray>(npz.read(key + "_images"));
      const io::NpyArray labels = npz.read(key + "_labels");
      if (images->shape.size() < 3) fail(path + ": " + key + "_images must be (N,H,W) or (N,H,W,C)");
      const int64_t n = images->shape[0];
      if (labels.shape.empty() || labels.shape[0] != n)
        fail(path + ": " + key + "_labels has " + (labels.shape.empty() ? "no" : std::to_string(labels.shape[0])) +
             " rows but " + key + "_images has " + std::to_string(n));
      const int64_t per_row = labels.numel() / std::max<int64_t>(n, 1);
      for (int64_t i = 0; i < n; ++i) {
        const std::string id = part + "/" + std::to_string(i);
        const int64_t label = labels.get_int(i * per_row);
        if (label < 0 || label >= static_cast<int64_t>(info_.class_texts.size())) {
          samples.push_back(error_sample(id, part,
                                         path + ": " + key + "_labels[" + std::to_string(i) +
                                             "] = " + std::to_string(label) + " is not a class of " + info_.name));
          where.emplace_back(nullptr, 0);
          continue;
        }
        Sample s;
        s.id = id;
        s.split = part;
        s.images.push_back(ImageRef{path + "#" + key + "_images[" + std::to_string(i) + "]", nullptr, nullptr});
        s.labels = {static_cast<int>(label)};
        s.modality = info_.modality;
        samples.push_back(std::move(s));
        where.emplace_back(images, i);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples), [where](size_t i, Sample& s) {
      s.images.front().pixels = pixels_from_array(*where[i].first, where[i].second, s.images.front().path);
    });
  }

 private:
  std::string flag_;
};

const MedMnistSpec kPneumonia{"PneumoniaMNIST",
                              "pneumoniamnist",
                              "radiology",
                              {"normal", "pneumonia"},
                              "PneumoniaMNIST pediatric chest X-ray, normal vs pneumonia"};
const MedMnistSpec kBreast{"BreastMNIST",
                           "breastmnist",
                           "ultrasound",
                           {"malignant", "normal, benign"},
                           "BreastMNIST breast ultrasound, malignant vs normal/benign"};
const MedMnistSpec kDerma{
    "DermaMNIST",
    "dermamnist",
    "dermatology",
    {"actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma", "benign keratosis-like lesions",
     "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions"},
    "DermaMNIST dermatoscopy (HAM10000), 7 classes"};

}  // namespace

MVB_REGISTER(dataset_registry(), "PneumoniaMNIST",
             DatasetEntry{[] { return std::make_unique<MedMnistDataset>(kPneumonia); }});
MVB_REGISTER(dataset_registry(), "BreastMNIST",
             DatasetEntry{[] { return std::make_unique<MedMnistDataset>(kBreast); }});
MVB_REGISTER(dataset_registry(), "DermaMNIST", DatasetEntry{[] { return std::make_unique<MedMnistDataset>(kDerma); }});

}  // namespace mvb::datasets
