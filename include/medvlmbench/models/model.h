// Model interfaces, one per family, and the model registry.
//
// - ImageClassifier: image -> class logits (the demo's tiny-fixture; fine-tuned heads).
// - ContrastiveModel: CLIP-style image/text towers (clip-zs, lp, LoRA usages).
// - GenerativeModel: image + prompt -> text (local VLMs and API backends alike).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/core/registry.h"
#include "medvlmbench/core/sample.h"
#include "medvlmbench/vision/image.h"

namespace mvb {

// What a model factory receives.
struct ModelSpec {
  std::string name;        // registry name
  std::string model_path;  // folder with the checkpoint, or "original_pretrained"
  std::string model_base;
  c10::Device device = c10::Device(c10::kCPU);
  std::string dtype = "auto";  // auto (fp32 on CPU, bf16 on CUDA), fp32, fp16, bf16
  int seed = 0;
  std::string cache_dir;
  // The run's task and usage ("" for library callers that do not say): models serving several tasks
  // through different interfaces (ModelEntry::per_task) build the one the task needs.
  std::string task;
  std::string usage;
  // Diagnosis: the dataset's classes (count and texts), for heads and zero-shot prompts.
  std::vector<std::string> class_texts;
  bool multi_label = false;
  nlohmann::json options = nlohmann::json::object();  // family-specific extras (api_base, ...)
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string family() const = 0;
  // A short description for run.json: architecture, parameter count, dtype, checkpoint.
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

class ImageClassifier : public Model {
 public:
  std::string family() const override { return "classifier"; }
  // How images must be prepared for classify().
  virtual const ImageTransform& transform() const = 0;
  // pixel_values [N,3,H,W] float -> logits [N,C] (C == 1 is read as a sigmoid score).
  virtual at::Tensor classify(const at::Tensor& pixel_values) = 0;
  virtual c10::Device device() const = 0;
};

class ContrastiveModel : public Model {
 public:
  std::string family() const override { return "contrastive"; }
  virtual const ImageTransform& transform() const = 0;
  virtual at::Tensor encode_image(const at::Tensor& pixel_values) = 0;        // [N, D] projected
  virtual at::Tensor encode_text(const std::vector<std::string>& texts) = 0;  // [T, D] projected
  virtual double logit_scale() const = 0;                                     // exp() already applied
  virtual double logit_bias() const { return 0.0; }                           // SigLIP
  virtual bool sigmoid_logits() const { return false; }                       // SigLIP-style scoring
  virtual c10::Device device() const = 0;
};

struct GenerationRequest {
  std::string prompt;  // the user turn, already formatted with the task's template
  std::vector<ImageRef> images;
  std::string system_prompt;
  // Unset = the model's own default (local models: the reference's max_new_tokens and its
  // generation_config.json; API models: their api_* settings). Agents set both per role.
  std::optional<int> max_new_tokens;
  std::optional<double> temperature;  // 0 = greedy
  // Sampling seed for this request (the runner derives it from --seed and the sample's index, so a
  // sample's output does not depend on which batch it ran in).
  uint64_t seed = 0;
};

struct GenerationResult {
  std::string text;
  std::string error;  // non-empty when this request failed (the run records a row)
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  double latency_s = 0;
  nlohmann::json extra = nlohmann::json::object();
};

class GenerativeModel : public Model {
 public:
  std::string family() const override { return "generative"; }
  // Generates for a batch of requests; results are in request order.
  virtual std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& batch) = 0;
  // The largest batch worth sending at once (API backends: their concurrency).
  virtual int preferred_batch_size() const { return 1; }
};

// What a model registered for several tasks does differently for one of them.
struct TaskOverride {
  std::string family;              // replaces ModelEntry::family for the task
  std::string default_checkpoint;  // replaces ModelEntry::default_checkpoint ("" = keep it)
};

struct ModelEntry {
  std::string family;              // classifier | contrastive | generative
  std::vector<std::string> tasks;  // tasks it can serve
  std::string description;
  // Whether --model_path must point at a checkpoint folder (false: seeded or remote models).
  bool needs_checkpoint = true;
  std::function<std::unique_ptr<Model>(const ModelSpec&)> factory;
  // The checkpoint the reference loads for this model: a hub id ("openai/clip-vit-base-patch32"), or a
  // folder name under models/ for checkpoints that are not on the hub ("pmcclip"). What --model_path
  // original_pretrained / not_given resolve to (models/checkpoint_path.h); "" = none (the folder must be given).
  std::string default_checkpoint = {};  // (initialized: registrations may leave it and per_task out)
  // Models that serve tasks through different interfaces (BLIP: a generative model for vqa, image/text
  // towers for diagnosis, each from its own reference checkpoint): per-task family and checkpoint.
  // The factory reads ModelSpec::task to build the matching object.
  std::map<std::string, TaskOverride> per_task = {};
  // This entry as `task` sees it (per_task applied).
  ModelEntry for_task(const std::string& task) const;
};

Registry<ModelEntry>& model_registry();

}  // namespace mvb
