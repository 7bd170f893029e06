#include "medvlmbench/train/diagnosis_data.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cstdio>
#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/metrics/classification.h"
#include "medvlmbench/tasks/image_diagnosis_loop.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/vision/prefetch.h"

namespace mvb::train {

std::vector<Sample> drain(SampleReader& reader) {
  std::vector<Sample> out;
  Sample s;
  while (reader.next(s)) out.push_back(s);
  return out;
}

std::vector<Sample> load_split(const RunConfig& cfg, const std::string& split) {
  auto ds = dataset_registry().get(cfg.dataset).factory();
  auto reader = select_samples(ds->open(DatasetRequest{cfg.task, split, cfg.image_path, cfg.cache_dir}),
                               SampleSelection::parse(cfg.shard, cfg.limit));
  return drain(*reader);
}

at::Tensor label_tensor(const std::vector<Sample>& samples, bool multi_label, int64_t num_labels) {
  const int64_t n = static_cast<int64_t>(samples.size());
  if (multi_label) {
    at::Tensor t = at::zeros({n, num_labels}, at::kFloat);
    auto a = t.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i) {
      const auto& l = samples[i].labels;
      MVB_CHECK(static_cast<int64_t>(l.size()) == num_labels, "sample ", samples[i].id, " has ", l.size(),
                " labels; the dataset declares ", num_labels);
      for (int64_t j = 0; j < num_labels; ++j) a[i][j] = static_cast<float>(l[j]);
    }
    return t;
  }
  at::Tensor t = at::empty({n}, at::kLong);
  auto a = t.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    MVB_CHECK(!samples[i].labels.empty(), "sample ", samples[i].id, " has no label");
    const int c = samples[i].labels[0];
    MVB_CHECK(c >= 0 && c < num_labels, "sample ", samples[i].id, " has label ", c, " outside [0, ", num_labels, ")");
    a[i] = c;
  }
  return t;
}

at::Tensor class_weights(const at::Tensor& labels, int64_t num_classes) {
  at::Tensor counts = at::bincount(labels, {}, num_classes).to(at::kDouble);
  const double n = static_cast<double>(labels.numel());
  at::Tensor w = at::where(counts > 0, n / (counts * static_cast<double>(num_classes)), at::zeros_like(counts));
  return w.to(at::kFloat);
}

ImageTransform diagnosis_transform(ContrastiveTowers& model, const RunConfig& cfg) {
  return diagnosis_input(cfg, cfg.dataset, model.transform()).transform;
}

FeatureSet extract_features(ContrastiveTowers& model, const std::vector<Sample>& samples, const RunConfig& cfg) {
  FeatureSet fs;
  VectorSampleReader reader(samples);
  const ImageTransform transform = diagnosis_transform(model, cfg);
  BatchPrefetcher prefetch(
      reader,
      [&transform](const Sample& s) {
        MVB_CHECK(s.error.empty(), s.error);
        MVB_CHECK(!s.images.empty(), "sample has no image");
        return preprocess(decode_image(s.images.front()), transform);
      },
      cfg.batch_size > 0 ? cfg.batch_size : 64, cfg.num_workers);
  Progress progress("features", samples.size());
  std::vector<at::Tensor> chunks;
  std::vector<PreparedSample> batch;
  torch::NoGradGuard no_grad;
  while (prefetch.next(batch)) {
    std::vector<at::Tensor> pixels;
    for (auto& p : batch) {
      if (!p.error.empty()) {
        fs.failed.push_back(error_row(p.sample, p.error));
        continue;
      }
      pixels.push_back(p.pixels);
      fs.samples.push_back(p.sample);
    }
    if (!pixels.empty()) chunks.push_back(model.encode_image(at::stack(pixels)).to(at::kCPU, at::kFloat));
    progress.advance(batch.size());
  }
  progress.finish();
  fs.features = chunks.empty() ? at::zeros({0, model.embed_dim()}) : at::cat(chunks, 0);
  return fs;
}

std::string cache_root(const RunConfig& cfg) {
  if (!cfg.cache_dir.empty()) return cfg.cache_dir;
  return io::join_path(cfg.command == "train" ? cfg.output_dir : cfg.exp_path, ".cache");
}

namespace {
std::string hash_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

// Every field of the transform: features computed from another input (e.g. the reference's ChestXray
// squash, which changes resize_mode and normalize) must never be reused.
std::string transform_key(const ImageTransform& t) {
  nlohmann::json j = {{"resize", t.resize},
                      {"crop", t.crop},
                      {"interp", t.interpolation},
                      {"mean", t.mean},
                      {"std", t.std},
                      {"resize_mode", t.resize_mode},
                      {"resize_wh", {t.resize_width, t.resize_height}},
                      {"crop_wh", {t.crop_width, t.crop_height}},
                      {"crop_rounding", t.crop_rounding},
                      {"pad_to_square", t.pad_to_square},
                      {"rescale_factor", t.rescale_factor},
                      {"normalize", t.normalize}};
  return j.dump();
}
}  // namespace

FeatureSet cached_features(ContrastiveTowers& model, const std::vector<Sample>& samples, const RunConfig& cfg,
                           const std::string& split, const std::string& extra_key) {
  std::string ids;
  for (const auto& s : samples) ids += s.id + '\n' + s.image_path() + '\n';
  const std::string key =
      hash_hex(cfg.model + '\n' + model.fingerprint() + '\n' + extra_key + '\n' + cfg.dataset + '\n' + split + '\n' +
               std::filesystem::absolute(cfg.image_path).lexically_normal().string() + '\n' +
               transform_key(diagnosis_transform(model, cfg)) + '\n' + ids);
  const std::string dir = io::join_path(io::join_path(cache_root(cfg), "features"), cfg.model);
  const std::string file = io::join_path(dir, cfg.dataset + "_" + split + "_" + key + ".safetensors");
  if (io::exists(file)) {
    try {
      io::StateDict sd = io::open_safetensors(file);
      const auto meta = io::safetensors_metadata(file);
      auto ok_ids = nlohmann::json::parse(meta.at("ok_ids")).get<std::vector<std::string>>();
      std::unordered_map<std::string, const Sample*> by_id;
      for (const auto& s : samples) by_id[s.id] = &s;
      FeatureSet fs;
      for (const auto& id : ok_ids) fs.samples.push_back(*by_id.at(id));
      for (const auto& s : samples)
        if (!std::count(ok_ids.begin(), ok_ids.end(), s.id))
          fs.failed.push_back(error_row(s, "image failed when cached"));
      fs.features = sd.get("features", at::kFloat).clone();
      fs.from_cache = true;
      fs.cache_file = file;
      spdlog::info("features: reusing cached {} features of {} {} ({})", fs.features.size(0), cfg.dataset, split, file);
      return fs;
    } catch (const std::exception& e) {
      spdlog::warn("features: ignoring unreadable cache {} ({}); recomputing", file, e.what());
    }
  }
  spdlog::info("features: computing {} {} image features with {} (cache miss)", samples.size(), split, cfg.model);
  FeatureSet fs = extract_features(model, samples, cfg);
  std::vector<std::string> ok_ids;
  for (const auto& s : fs.samples) ok_ids.push_back(s.id);
  io::create_directories(dir);
  io::write_safetensors(file, {{"features", fs.features}},
                        {{"ok_ids", nlohmann::json(ok_ids).dump()},
                         {"model", cfg.model},
                         {"fingerprint", model.fingerprint()},
                         {"dataset", cfg.dataset},
                         {"split", split}});
  fs.cache_file = file;
  spdlog::info("features: cached in {}", file);
  return fs;
}

nlohmann::json evaluate_probs(const at::Tensor& probs_in, const std::vector<Sample>& samples, bool multi_label) {
  at::Tensor probs = probs_in.to(at::kCPU, at::kDouble).contiguous();
  const int64_t n = probs.size(0), c = probs.size(1);
  std::vector<double> scores(probs.data_ptr<double>(), probs.data_ptr<double>() + n * c);
  nlohmann::json out = {{"num_samples", n}};
  auto put = [&out](const char* k, const std::optional<double>& v) {
    out[k] = v ? nlohmann::json(*v) : nlohmann::json();
  };
  if (multi_label) {
    std::vector<int> labels;
    for (const auto& s : samples) labels.insert(labels.end(), s.labels.begin(), s.labels.end());
    auto r = metrics::multilabel_auroc(labels, scores, static_cast<int>(c));
    put("auc", r.macro);
    int correct = 0;
    for (size_t i = 0; i < labels.size(); ++i) correct += (scores[i] >= 0.5) == (labels[i] == 1);
    out["accuracy"] = labels.empty() ? nlohmann::json() : nlohmann::json(double(correct) / labels.size());
    return out;
  }
  std::vector<int> labels, preds;
  std::vector<double> pos;
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(samples[i].labels[0]);
    preds.push_back(static_cast<int>(std::max_element(scores.begin() + i * c, scores.begin() + (i + 1) * c) -
                                     (scores.begin() + i * c)));
    pos.push_back(scores[i * c + (c > 1 ? 1 : 0)]);
  }
  put("accuracy", metrics::accuracy(labels, preds));
  if (c <= 2)
    put("auc", metrics::binary_auroc(labels, pos));
  else
    put("auc", metrics::ovr_auroc(labels, scores, static_cast<int>(c)).macro);
  return out;
}

}  // namespace mvb::train
