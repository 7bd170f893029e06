// Harvard-FairVLMed10k (Luo et al. 2024): scanning laser ophthalmoscopy (SLO) fundus images stored as
// .npz arrays (key slo_fundus) with clinical notes. Three tasks, as in the reference:
//  - vqa:      {image_path}/vqa_{split}.csv (columns `question type`, question, answer, image_path,
//              rows with any empty field dropped as pandas dropna() does), open iff question type OPEN;
//  - caption:  {image_path}/caption_{split}.csv (image_path, gpt_summary = the target report);
//  - diagnosis:{image_path}/FairVLMed10k/split/{split}.csv (glaucoma yes/no, path), image at
//              FairVLMed10k/{path} (an image file, or an .npz read like the others).
// The reference registers it as "Harvard-FairVLMed10k" for vqa and "HarvardFairVLMed10k" for caption
// and diagnosis; both names are accepted for all three tasks here.
#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/csv.h"
#include "medvlmbench/io/files.h"

namespace mvb::datasets {
namespace {

class FairVlmedDataset : public LoaderBase {
 public:
  explicit FairVlmedDataset(const std::string& name) {
    info_.name = name;
    // The reference's "Harvard-FairVLMed10k" is its vqa dataset, "HarvardFairVLMed10k" its caption and
    // diagnosis one; the first task is what `check` uses by default.
    info_.tasks = name == "HarvardFairVLMed10k" ? std::vector<std::string>{"caption", "diagnosis", "vqa"}
                                                : std::vector<std::string>{"vqa", "caption", "diagnosis"};
    info_.splits = {"train", "validation", "test", "all"};
    info_.class_texts = {"a benign scanning laser ophthalmoscope fundus image",
                         " a glaucoma scanning laser ophthalmoscope fundus image"};
    info_.modality = "ophthalmology";
    info_.results_modality = "SLO Fundus";
    info_.aliases = {name == "HarvardFairVLMed10k" ? "Harvard-FairVLMed10k" : "HarvardFairVLMed10k"};
    info_.layout =
        "vqa: {image_path}/vqa_{train,validation,test,all}.csv + the .npz files its image_path column names (key "
        "slo_fundus); "
        "caption: {image_path}/caption_{split}.csv (image_path, gpt_summary); diagnosis: "
        "{image_path}/FairVLMed10k/split/{split}.csv (glaucoma, path) with images at {image_path}/FairVLMed10k/{path}";
    info_.description = "Harvard-FairVLMed10k SLO fundus: VQA, report generation and glaucoma diagnosis";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    MVB_USAGE_CHECK(req.task == "vqa" || req.task == "caption" || req.task == "diagnosis", info_.name,
                    " supports tasks vqa, caption and diagnosis, not '", req.task, "'");
    std::vector<Sample> samples;
    auto parts = parts_of(req.split, {"train", "validation", "test"});
    // The reference reads {task}_all.csv / split/all.csv for "all" (its preprocessing writes them);
    // without them "all" is train + validation + test.
    const std::string all_csv =
        req.task == "diagnosis"
            ? io::join_path(io::join_path(io::join_path(req.root, "FairVLMed10k"), "split"), "all.csv")
            : io::join_path(metadata_dir(req.root, req.task), req.task + "_all.csv");
    if (req.split == "all" && io::exists(all_csv)) parts = {"all"};
    for (const auto& part : parts) {
      if (req.task == "diagnosis")
        load_diagnosis(req.root, part, samples);
      else
        load_text(req.root, req.task, part, samples);
    }
    return std::make_unique<LazySampleReader>(std::move(samples), [](size_t, Sample& s) {
      // Arrays are read only when the sample is used.
      auto& img = s.images.front();
      if (!img.pixels && ends_with(to_lower(img.path), ".npz")) img.pixels = pixels_from_npz(img.path, "slo_fundus");
    });
  }

 private:
  std::string find_csv(const std::string& dir, const std::string& prefix, const std::string& part) const {
    std::vector<std::string> c = {io::join_path(dir, prefix + part + ".csv")};
    if (part == "validation") c.push_back(io::join_path(dir, prefix + "val.csv"));
    const std::string f = first_existing(c);
    if (f.empty()) fail("missing " + join(c, " or "));
    return f;
  }

  // Annotation CSVs live in --image_path, or (as in the reference) in ./data/FairVLMed10k.
  std::string metadata_dir(const std::string& root, const std::string& task) const {
    const std::string probe = task + "_test.csv";
    if (io::exists(io::join_path(root, probe))) return root;
    if (io::exists(io::join_path("data/FairVLMed10k", probe))) return "data/FairVLMed10k";
    return root;
  }

  void load_text(const std::string& root, const std::string& task, const std::string& part,
                 std::vector<Sample>& out) const {
    const io::CsvTable t = io::read_csv(find_csv(metadata_dir(root, task), task + "_", part));
    const int img_col = t.require_column("image_path");
    int q_col = -1, a_col = -1, type_col = -1;
    if (task == "vqa") {
      q_col = t.require_column("question");
      a_col = t.require_column("answer");
      type_col = t.require_column("question type");
    } else {
      a_col = t.require_column("gpt_summary");
    }
    const int file_col = t.column("filename");
    int64_t dropped = 0;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const std::string id = part + "/" + std::to_string(r);
      // pandas fills the missing trailing fields of a short row with NaN, so dropna() drops the row
      // (defect 12: it used to be an error row here). A row with extra fields stays an error row.
      if (task == "vqa" && t.rows[r].size() < t.header.size()) {
        ++dropped;
        continue;
      }
      if (t.rows[r].size() != t.header.size()) {
        out.push_back(error_sample(id, part,
                                   t.path + " row " + std::to_string(r + 2) + " has " +
                                       std::to_string(t.rows[r].size()) + " fields, header has " +
                                       std::to_string(t.header.size())));
        continue;
      }
      if (task == "vqa") {
        // The reference calls dropna(): a row with any empty/NA cell is not part of the dataset.
        bool na = false;
        for (const auto& cell : t.rows[r]) na = na || io::is_pandas_na(cell);
        if (na) {
          ++dropped;
          continue;
        }
      } else if (io::is_pandas_na(t.cell(r, a_col)) || io::is_pandas_na(t.cell(r, img_col))) {
        out.push_back(
            error_sample(id, part, t.path + " row " + std::to_string(r + 2) + ": empty image_path or gpt_summary"));
        continue;
      }
      Sample s;
      if (!start_image_sample(s, out, id, part, root, t.cell(r, img_col), "missing image array")) continue;
      s.modality = info_.modality;
      s.answer = t.cell(r, a_col);
      if (task == "vqa") {
        s.question = t.cell(r, q_col);
        s.prompt = vqa_prompt(s.question, s.answer);
        s.question_type = t.cell(r, type_col) == "OPEN" ? "open" : "closed";
      } else {
        s.question = s.prompt = kCaptionPrompt;
        s.question_type = "caption";
      }
      if (file_col >= 0) s.metadata["filename"] = t.cell(r, file_col);
      out.push_back(std::move(s));
    }
    if (dropped)
      spdlog::info("{}: {} rows of {} have empty fields and are skipped, as the reference's dropna() does", info_.name,
                   dropped, t.path);
  }

  void load_diagnosis(const std::string& root, const std::string& part, std::vector<Sample>& out) const {
    const std::string base = io::join_path(root, "FairVLMed10k");
    const io::CsvTable t = io::read_csv(find_csv(io::join_path(base, "split"), "", part));
    const int label_col = t.require_column("glaucoma"), path_col = t.require_column("path");
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const std::string id = part + "/" + std::to_string(r);
      const std::string g = to_lower(trim(t.cell(r, label_col)));
      if (g != "yes" && g != "no") {
        out.push_back(error_sample(id, part,
                                   t.path + " row " + std::to_string(r + 2) + ": unknown glaucoma label '" +
                                       t.cell(r, label_col) + "' (expected yes or no)"));
        continue;
      }
      add_image_sample(out, id, part, base, t.cell(r, path_col), g == "yes" ? 1 : 0, info_.modality);
    }
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "Harvard-FairVLMed10k",
             DatasetEntry{[] { return std::make_unique<FairVlmedDataset>("Harvard-FairVLMed10k"); }});
MVB_REGISTER(dataset_registry(), "HarvardFairVLMed10k",
             DatasetEntry{[] { return std::make_unique<FairVlmedDataset>("HarvardFairVLMed10k"); }});

}  // namespace mvb::datasets
