// GF3300 (Harvard Glaucoma Fairness, Luo et al. 2023): retinal nerve fibre layer thickness maps in
// .npz files. As the reference: {image_path}/GF3300/split/{split}.csv (glaucoma yes/no, path), array
// key rnflt in {image_path}/GF3300/data/{path}, scaled to pixels as (x + 2) / 352 * 255 then cast to
// uint8 (truncation), shown as grey RGB.
#include <cmath>

#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

// numpy's float -> uint8 astype on x86: truncation toward zero, then the low 8 bits.
uint8_t numpy_to_uint8(double v) {
  if (!std::isfinite(v)) return 0;
  return static_cast<uint8_t>(static_cast<int64_t>(v) & 0xFF);
}

class Gf3300Dataset : public LoaderBase {
 public:
  Gf3300Dataset() {
    info_.name = "GF3300";
    info_.tasks = {"diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"benign retina", "glaucomatous retina"};
    info_.modality = "ophthalmology";
    info_.results_modality = "image";
    info_.layout =
        "{image_path}/GF3300/split/{train,val,test}.csv (glaucoma, path) and {image_path}/GF3300/data/{path} "
        "(.npz with key rnflt)";
    info_.description = "GF3300 RNFLT maps, glaucoma vs not";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    const std::string base = io::join_path(req.root, "GF3300");
    std::vector<Sample> samples;
    for (const auto& part : parts_of(req.split, {"train", "validation", "test"})) {
      const std::string csv = find_split_csv(io::join_path(base, "split"), "", part);
      if (csv.empty()) fail("missing " + split_csv_names(io::join_path(base, "split"), "", part));
      const io::CsvTable t = io::read_csv(csv);
      const int gc = t.require_column("glaucoma"), pc = t.require_column("path");
      for (size_t r = 0; r < t.rows.size(); ++r) {
        const std::string id = part + "/" + t.cell(r, pc);
        const std::string g = trim(t.cell(r, gc));
        if (g != "yes" && g != "no") {
          samples.push_back(
              error_sample(id, part, csv_row(csv, r) + ": unknown glaucoma label '" + g + "' (expected yes or no)"));
          continue;
        }
        add_image_sample(samples, id, part, io::join_path(base, "data"), t.cell(r, pc), g == "yes", info_.modality);
      }
    }
    return std::make_unique<LazySampleReader>(std::move(samples), [](size_t, Sample& s) {
      ImageRef& img = s.images.front();
      MVB_CHECK(io::exists(img.path), "missing image array ", img.path);
      const io::NpyArray a = io::NpzFile(img.path).read("rnflt");
      MVB_CHECK(a.shape.size() == 2, img.path, ": rnflt must be a 2-D array, got ", a.shape.size(), " dimensions");
      auto buf = std::make_shared<PixelBuffer>();
      buf->height = static_cast<int>(a.shape[0]);
      buf->width = static_cast<int>(a.shape[1]);
      buf->channels = 1;
      buf->data.resize(a.numel());
      for (int64_t i = 0; i < a.numel(); ++i) buf->data[i] = numpy_to_uint8((a.get_double(i) + 2.0) / 352.0 * 255.0);
      img.pixels = std::move(buf);
    });
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "GF3300", DatasetEntry{[] { return std::make_unique<Gf3300Dataset>(); }});

}  // namespace mvb::datasets
