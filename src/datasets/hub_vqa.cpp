// PathVQA and VQA-RAD as the reference reads them: the Hugging Face copies
// flaviagiammarino/path-vqa and flaviagiammarino/vqa-rad, parquet shards
// data/{split}-NNNNN-of-NNNNN-*.parquet with columns image{bytes,path}, question, answer (the image is
// embedded). Open iff the answer is not yes/no. VQA-RAD's original release (VQA_RAD Dataset
// Public.json + "VQA_RAD Image Folder") is read too; its test split is phrase_type test_freeform and
// test_para. PathVQA's original release (pvqa/qas/{train,val,test}/{split}_qa.pkl, a pickled list of
// {image, question, answer}, + pvqa/images/{split}/{image}.jpg) is read too.
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "common.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/hub_cache.h"
#include "medvlmbench/io/parquet.h"
#include "medvlmbench/io/torch_pickle.h"

namespace fs = std::filesystem;

namespace mvb::datasets {
namespace {

// Parquet shards of one split: in root, root/data, or a Hugging Face hub cache snapshot under root.
std::vector<std::string> find_shards(const std::string& root, const std::string& split, const std::string& hub_dir) {
  std::vector<std::string> dirs = {root, io::join_path(root, "data")};
  for (const std::string& base : {io::join_path(root, hub_dir), root}) {
    const std::string snaps = io::join_path(base, "snapshots");
    std::error_code ec;
    if (!io::is_directory(snaps)) continue;
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(snaps, ec)) found.push_back(io::join_path(e.path().string(), "data"));
    std::sort(found.begin(), found.end());
    dirs.insert(dirs.end(), found.begin(), found.end());
  }
  const std::regex shard("^" + split + "(-[0-9]+-of-[0-9]+)?(-[^/]*)?\\.parquet$");
  for (const auto& dir : dirs) {
    std::vector<std::string> files;
    for (const auto& f : list_files(dir, {".parquet"}))
      if (std::regex_match(f, shard)) files.push_back(io::join_path(dir, f));
    if (!files.empty()) return files;
  }
  return {};
}

// Where each sample's embedded image lives; the image column is decoded one row group at a time.
struct ShardRow {
  int file = -1;  // -1: no embedded image (error rows, original-layout samples)
  int row_group = 0;
  int64_t row = 0;  // within the row group
};

struct ParquetImages {
  std::vector<std::unique_ptr<io::ParquetFile>> files;
  std::vector<ShardRow> rows;  // by sample index
  int cached_file = -1, cached_rg = -1;
  io::ParquetValues bytes, paths;

  void fill(size_t index, Sample& s, const std::string& root) {
    const ShardRow& r = rows.at(index);
    if (r.file != cached_file || r.row_group != cached_rg) {
      cached_file = cached_rg = -1;
      const io::ParquetFile& f = *files[r.file];
      const int bc = f.column_index("image.bytes") >= 0 ? f.column_index("image.bytes") : f.column_index("image");
      const int pc = f.column_index("image.path");
      bytes = f.read(r.row_group, bc);
      paths = pc >= 0 ? f.read(r.row_group, pc) : io::ParquetValues();
      cached_file = r.file;
      cached_rg = r.row_group;
    }
    const std::string where = s.images.front().path;
    if (!bytes.is_null(r.row) && !bytes.bytes[r.row].empty()) {
      s.images.front().encoded = std::make_shared<const std::string>(std::move(bytes.bytes[r.row]));
      return;
    }
    // An image stored by path only (not embedded): resolve it inside the data root.
    MVB_CHECK(paths.size() > static_cast<size_t>(r.row) && !paths.is_null(r.row) && !paths.bytes[r.row].empty(), where,
              ": the image cell is empty (no bytes and no path)");
    std::string err;
    const std::string p = existing_within(root, paths.bytes[r.row], &err);
    MVB_CHECK(!p.empty(), where, ": ", err);
    s.images.front() = ImageRef::file(p);
  }
};

class HubVqaDataset : public LoaderBase {
 public:
  HubVqaDataset(std::string name, std::string hub_repo, std::vector<std::string> parts, std::string modality,
                std::string results_modality, std::string description)
      : hub_repo_(std::move(hub_repo)), parts_(std::move(parts)) {
    info_.name = std::move(name);
    info_.tasks = {"vqa"};
    info_.splits = parts_;
    info_.splits.push_back("all");
    info_.modality = std::move(modality);
    info_.results_modality = std::move(results_modality);
    info_.description = std::move(description);
    info_.layout = "{image_path}/[data/]{" + join(parts_, ",") +
                   "}-NNNNN-of-NNNNN-*.parquet with columns image{bytes,path}, question, answer (Hugging Face " +
                   hub_repo_ + "; or its Hugging Face hub cache entry " + hub_dir(hub_repo_) +
                   "/snapshots/<rev>/data/, under {image_path}, --cache_dir, HF_HUB_CACHE or HF_HOME/hub)";
  }

  std::unique_ptr<SampleReader> load(const DatasetRequest& req) const override {
    auto images = std::make_shared<ParquetImages>();
    std::vector<Sample> samples;
    for (const auto& part : parts_of(req.split, parts_)) {
      auto shards = find_shards(req.root, part, hub_dir(hub_repo_));
      io::HubLookup hub;
      if (shards.empty()) {
        if (open_original(req.root, part, samples)) {
          images->rows.resize(samples.size());  // those samples reference image files, not parquet rows
          continue;
        }
        // What datasets.load_dataset(hub_repo_) left in the Hugging Face hub cache (defect 13).
        hub = io::find_hub_dataset(hub_repo_, req.cache_dir);
        if (hub.snapshot) shards = find_shards(hub.snapshot->folder, part, "");
      }
      if (shards.empty())
        fail("no parquet shards for split " + part + " under " + req.root + " nor in a Hugging Face hub cache of " +
             hub_repo_ + " (searched " + join(hub.searched, ", ") + ")" +
             (hub.problems.empty() ? "" : "; " + join(hub.problems, "; ")));
      int64_t part_row = 0;
      for (const auto& path : shards) {
        auto file = std::make_unique<io::ParquetFile>(path);
        const int qc = file->require_column("question"), ac = file->require_column("answer");
        if (file->column_index("image.bytes") < 0 && file->column_index("image") < 0)
          fail(path + " has no image column (expected image{bytes,path} or a binary image column)");
        const int file_index = static_cast<int>(images->files.size());
        for (int rg = 0; rg < file->num_row_groups(); ++rg) {
          const io::ParquetValues q = file->read(rg, qc), a = file->read(rg, ac);
          for (size_t r = 0; r < q.size(); ++r, ++part_row) {
            const std::string id = part + "/" + std::to_string(part_row);
            const std::string where = path + "#row=" + std::to_string(part_row);
            if (q.is_null(r) || a.is_null(r)) {
              samples.push_back(error_sample(id, part, where + ": empty question or answer"));
              samples.back().metadata["reference_image_path"] = "NA";  // predictions.json's failed row
              images->rows.push_back({});
              continue;
            }
            Sample s;
            s.id = id;
            s.split = part;
            s.question = q.as_string(r);
            s.answer = a.as_string(r);
            s.prompt = vqa_prompt(s.question, s.answer);
            s.question_type = is_yes_no(s.answer) ? "closed" : "open";
            s.modality = info_.modality;
            s.images.push_back(ImageRef{where, nullptr, nullptr});
            s.metadata["reference_image_path"] = "NA";  // what the reference writes for embedded images
            samples.push_back(std::move(s));
            images->rows.push_back({file_index, rg, static_cast<int64_t>(r)});
          }
        }
        images->files.push_back(std::move(file));
      }
    }
    images->rows.resize(samples.size());
    const std::string root = req.root;
    return std::make_unique<LazySampleReader>(std::move(samples), [images, root](size_t i, Sample& s) {
      if (images->rows[i].file >= 0) images->fill(i, s, root);
    });
  }

 protected:
  // The dataset's original release layout, when it differs from the hub copy. Returns false when
  // that layout is absent too.
  virtual bool open_original(const std::string&, const std::string&, std::vector<Sample>&) const { return false; }
  // The hub cache folder name of a dataset repo: datasets--<owner>--<name>.
  static std::string hub_dir(const std::string& repo) {
    std::string out = "datasets--";
    for (char c : repo) out += c == '/' ? std::string("--") : std::string(1, c);
    return out;
  }

  std::string hub_repo_;
  std::vector<std::string> parts_;
};

class VqaRadDataset : public HubVqaDataset {
 public:
  VqaRadDataset()
      : HubVqaDataset("VQA-RAD", "flaviagiammarino/vqa-rad", {"train", "test"}, "radiology", "radiology",
                      "VQA-RAD radiology VQA (open iff the answer is not yes/no)") {
    info_.layout +=
        "; or the original release: {image_path}/VQA_RAD Dataset Public.json + {image_path}/VQA_RAD "
        "Image Folder/ (test = phrase_type test_freeform/test_para)";
  }

 protected:
  bool open_original(const std::string& root, const std::string& part, std::vector<Sample>& out) const override {
    const std::string ann = first_existing({io::join_path(root, "VQA_RAD Dataset Public.json"),
                                            io::join_path(parent_dir(root), "VQA_RAD Dataset Public.json")});
    if (ann.empty()) return false;
    const std::string base = parent_dir(ann);
    const std::string image_dir = first_existing({io::join_path(base, "VQA_RAD Image Folder"), root});
    const nlohmann::json records = io::read_json(ann);
    if (!records.is_array()) fail(ann + " is not a JSON list of question records");
    auto split_of = [](const nlohmann::json& r) {
      const std::string phrase = r.is_object() ? json_str(r.value("phrase_type", nlohmann::json(""))) : "";
      return starts_with(phrase, "test") ? "test" : "train";
    };
    // The hub copy drops repeated (image, question, answer) triplets from train and the train triplets
    // that also occur in test (2,248 -> 2,244 pairs); do the same so both layouts give the same samples.
    auto triplet = [](const nlohmann::json& r) {
      return json_str(r.value("image_name", nlohmann::json(""))) + "\x1f" +
             json_str(r.value("question", nlohmann::json(""))) + "\x1f" +
             json_str(r.value("answer", nlohmann::json("")));
    };
    std::set<std::string> seen;
    if (part == "train")
      for (const auto& r : records)
        if (r.is_object() && std::string(split_of(r)) == "test") seen.insert(triplet(r));
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      if (split_of(r) != part) continue;
      if (part == "train" && r.is_object() && !seen.insert(triplet(r)).second) continue;
      const std::string id = part + "/" + (r.is_object() && r.contains("qid") ? json_str(r["qid"]) : std::to_string(i));
      std::string missing;
      for (const char* f : {"image_name", "question", "answer"})
        if (!r.is_object() || !r.contains(f) || r[f].is_null()) missing += missing.empty() ? f : std::string(", ") + f;
      if (!missing.empty()) {
        out.push_back(error_sample(id, part, ann + " record " + std::to_string(i) + " lacks field(s) " + missing));
        continue;
      }
      Sample s;
      if (!start_image_sample(s, out, id, part, image_dir, json_str(r["image_name"]))) continue;
      s.question = json_str(r["question"]);
      s.answer = json_str(r["answer"]);
      s.prompt = vqa_prompt(s.question, s.answer);
      s.question_type = is_yes_no(s.answer) ? "closed" : "open";
      s.modality = info_.modality;
      for (const char* f : {"image_organ", "question_type", "answer_type", "phrase_type"})
        if (r.contains(f)) s.metadata[f] = r[f];
      out.push_back(std::move(s));
    }
    return true;
  }
};

class PathVqaDataset : public HubVqaDataset {
 public:
  PathVqaDataset()
      : HubVqaDataset("PathVQA", "flaviagiammarino/path-vqa", {"train", "validation", "test"}, "pathology", "pathology",
                      "PathVQA pathology VQA (open iff the answer is not yes/no)") {
    info_.layout +=
        "; or the original release: {image_path}/[pvqa/]qas/{train,val,test}/{split}_qa.pkl + "
        "{image_path}/[pvqa/]images/{split}/{image}.jpg";
  }

 protected:
  bool open_original(const std::string& root, const std::string& part, std::vector<Sample>& out) const override {
    const std::string folder = part == "validation" ? "val" : part;
    std::string base;
    for (const std::string& b : {io::join_path(root, "pvqa"), root})
      if (io::exists(io::join_path(b, "qas/" + folder + "/" + folder + "_qa.pkl"))) {
        base = b;
        break;
      }
    if (base.empty()) return false;
    const std::string ann = io::join_path(base, "qas/" + folder + "/" + folder + "_qa.pkl");
    const std::string image_dir = io::join_path(base, "images/" + folder);
    const std::string bytes = io::read_file(ann);
    // Plain values only: any object reference (a global) is refused by the restricted unpickler.
    const io::pickle::ValuePtr list = io::pickle::unpickle(
        reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
        [&](const io::pickle::ValuePtr&) -> io::pickle::ValuePtr {
          throw Error(ann + ": unexpected persistent id in a question list");
        },
        ann);
    if (!list || list->kind != io::pickle::Value::Kind::kList) fail(ann + " is not a pickled list of question records");
    for (size_t i = 0; i < list->items.size(); ++i) {
      const auto& rec = list->items[i];
      const std::string id = part + "/" + std::to_string(i);
      std::map<std::string, std::string> f;
      if (rec && rec->kind == io::pickle::Value::Kind::kDict)
        for (const auto& [k, v] : rec->entries)
          if (k && k->kind == io::pickle::Value::Kind::kStr && v && v->kind == io::pickle::Value::Kind::kStr)
            f[k->s] = v->s;
      if (!f.count("image") || !f.count("question") || !f.count("answer")) {
        out.push_back(error_sample(id, part, ann + " record " + std::to_string(i) + " lacks image/question/answer"));
        continue;
      }
      Sample s;
      if (!start_image_sample(s, out, id, part, image_dir, f["image"] + ".jpg")) continue;
      s.question = f["question"];
      s.answer = f["answer"];
      s.prompt = vqa_prompt(s.question, s.answer);
      s.question_type = is_yes_no(s.answer) ? "closed" : "open";
      s.modality = info_.modality;
      s.metadata["image"] = f["image"];
      out.push_back(std::move(s));
    }
    return true;
  }
};

}  // namespace

MVB_REGISTER(dataset_registry(), "PathVQA", DatasetEntry{[] { return std::make_unique<PathVqaDataset>(); }});
MVB_REGISTER(dataset_registry(), "VQA-RAD", DatasetEntry{[] { return std::make_unique<VqaRadDataset>(); }});

}  // namespace mvb::datasets
