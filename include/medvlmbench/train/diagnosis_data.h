// Data plumbing for the diagnosis LP / LoRA usages: splits as in-memory sample lists, label tensors,
// the reference's class weights, and image features with an on-disk cache so a second run (or the
// eval after training) does not run the frozen vision tower again.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"
#include "medvlmbench/core/sample.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/models/contrastive_towers.h"

namespace mvb::train {

// All samples of `split` after --shard / --limit, in dataset order.
std::vector<Sample> load_split(const RunConfig& cfg, const std::string& split);
// Drains a reader into memory.
std::vector<Sample> drain(SampleReader& reader);

// Labels as a tensor: [N] int64 class indices, or [N, L] float 0/1 for multi-label datasets.
at::Tensor label_tensor(const std::vector<Sample>& samples, bool multi_label, int64_t num_labels);

// The reference's weights w_c = N / (count_c * C) over [N] class labels; a class that never occurs
// gets weight 0 (the reference would divide by zero).
at::Tensor class_weights(const at::Tensor& labels, int64_t num_classes);

struct FeatureSet {
  std::vector<Sample> samples;         // the samples that produced a feature row, in order
  at::Tensor features;                 // [N, D] float32, CPU
  std::vector<nlohmann::json> failed;  // error rows for samples whose image could not be read
  bool from_cache = false;
  std::string cache_file;
};

// The image transform of the diagnosis training/eval usages: the model's processor, or the reference's
// ChestXray input under --reference_compat chestxray_transform (tasks/image_diagnosis_loop.h).
ImageTransform diagnosis_transform(ContrastiveTowers& model, const RunConfig& cfg);

// Features of `samples` from model.image_features (no grad), batched with prefetched decoding.
FeatureSet extract_features(ContrastiveTowers& model, const std::vector<Sample>& samples, const RunConfig& cfg);

// The same, cached under <cache>/features/<model>/<key>.safetensors where the key covers the model
// fingerprint (+ `extra_key`, e.g. LoRA weights), dataset, split, sample ids and preprocessing. Any
// change recomputes. The cache folder is --cache_dir, else <output root>/.cache.
FeatureSet cached_features(ContrastiveTowers& model, const std::vector<Sample>& samples, const RunConfig& cfg,
                           const std::string& split, const std::string& extra_key = "");
std::string cache_root(const RunConfig& cfg);

// accuracy and AUROC (binary: class-1 probability as the reference; multi-class: one-vs-rest macro;
// multi-label: macro over labels) of probabilities [N, C] against labels.
nlohmann::json evaluate_probs(const at::Tensor& probs, const std::vector<Sample>& samples, bool multi_label);

}  // namespace mvb::train
