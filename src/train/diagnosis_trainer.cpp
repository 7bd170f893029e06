// Training usages of the diagnosis task (`medvlmbench train --task diagnosis --usage ...`):
//   lp            frozen image features (get_image_features, cached on disk) -> Linear(D, C)
//   img-lora-lp   LoRA (r 8, alpha 32, dropout 0.05) on every Linear of the vision tower + Linear head,
//                 BOTH trained. The reference runs the tower under no_grad, so its adapters never
//                 train; --lora_head_only reproduces that (then it is lp with zero adapters).
//   clip-img-lora LoRA on the vision tower only, trained through logits_per_image against the
//                 zero-shot class prompts ("a photo of {class}").
// As the reference's CLIPLPTrainer: class-weighted cross-entropy (w_c = N / (count_c * C)), AdamW with
// --learning_rate / --weight_decay, HF's --lr_scheduler_type schedule with --warmup_ratio,
// --gradient_accumulation_steps, gradient clipping at --max_grad_norm (scheduled_adamw.h), and an
// evaluation on the test split after epoch 1, 11, 21 ... (--eval_every) and at the end. Multi-label datasets use
// per-label sigmoid outputs with binary cross-entropy.
//
// A run is DiagnosisTraining: its constructor prepares everything in the order that draws from the
// seeded generator (LoRA initialisation, then the head), run() does the epochs, the evaluations and
// the checkpoint. Keep that order: a seed must give the same weights from one release to the next.
#include <ATen/ATen.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/tasks/image_diagnosis_loop.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/tasks/zero_shot.h"
#include "medvlmbench/train/diagnosis_data.h"
#include "medvlmbench/train/head_checkpoint.h"
#include "medvlmbench/train/optim.h"
#include "medvlmbench/train/scheduled_adamw.h"
#include "medvlmbench/vision/prefetch.h"

namespace mvb::train {
namespace {

enum class Mode { kLp, kImgLoraLp, kClipImgLora };

const char* mode_name(Mode m) {
  return m == Mode::kLp ? "lp" : m == Mode::kImgLoraLp ? "img-lora-lp" : "clip-img-lora";
}

// "1.000000, 0.500000" style, for the class-weight log line.
std::string tensor_list(const at::Tensor& t) {
  std::string s = "[";
  at::Tensor c = t.to(at::kCPU, at::kDouble);
  for (int64_t i = 0; i < c.numel(); ++i) s += (i ? ", " : "") + std::to_string(c[i].item<double>());
  return s + "]";
}

// ---------------------------------------------------------------------------------------------------
// Data

// The split the run trains on and, when the dataset has one, its test split: the reference's
// CLIPLPTrainer evaluates on the test split during training, whatever --split names.
struct Splits {
  std::vector<Sample> train;
  std::vector<Sample> test;  // empty: the dataset has no test split, so nothing is evaluated
};

Splits load_splits(RunContext& ctx) {
  Splits s;
  s.train = drain(*ctx.samples);
  MVB_CHECK(!s.train.empty(), "no training samples in ", ctx.cfg.dataset, " split ", ctx.cfg.split);
  const auto& names = ctx.dataset.splits;
  if (std::find(names.begin(), names.end(), "test") != names.end()) s.test = load_split(ctx.cfg, "test");
  return s;
}

// A frozen tower gives the same features every epoch, so they are computed once (or read from the
// on-disk cache a previous run or evaluation left) and the epochs run on tensors. Training samples
// whose image fails drop out here, with a warning each.
struct FrozenFeatures {
  FeatureSet train;
  FeatureSet test;
};

FrozenFeatures frozen_features(ContrastiveTowers& model, const Splits& splits, const RunConfig& cfg) {
  FrozenFeatures f;
  f.train = cached_features(model, splits.train, cfg, cfg.split);
  if (!splits.test.empty()) f.test = cached_features(model, splits.test, cfg, "test");
  for (const auto& failed : f.train.failed)
    spdlog::warn("skipping training sample {}: {}", failed.value("id", "?"), failed.value("error", ""));
  return f;
}

// ---------------------------------------------------------------------------------------------------
// LoRA on the vision tower

struct VisionLora {
  bool attached = false;  // img-lora-lp, clip-img-lora
  bool trained = false;   // false also for img-lora-lp --lora_head_only (the reference's no_grad tower)
  nn::LoraConfig config;
  int layers = 0;
};

VisionLora attach_vision_lora(ContrastiveTowers& model, Mode mode, const RunConfig& cfg) {
  VisionLora lora;
  lora.attached = mode != Mode::kLp;
  lora.trained = lora.attached && !(mode == Mode::kImgLoraLp && cfg.lora_head_only);
  lora.config = diagnosis_lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout);
  if (!lora.attached) return lora;
  lora.layers = apply_lora(model.vision_tower(), lora.config);
  // The adapters are created as float32 CPU tensors; move them to where (and in what dtype) the model runs.
  model.root().to(model.device(), model.dtype());
  spdlog::info("{}: LoRA r={} alpha={} dropout={} on {} layers (Linear, Embedding) of the vision tower ({})",
               mode_name(mode), lora.config.r, lora.config.alpha, lora.config.dropout, lora.layers,
               lora.trained ? "trained" : "frozen, as the reference: only the head trains");
  return lora;
}

// The adapters' tensors, made trainable. They come first in the optimiser's list, before the head's.
std::vector<std::pair<std::string, at::Tensor>> trainable_adapters(ContrastiveTowers& model) {
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (auto& p : model.vision_tower().named_parameters(/*recurse=*/true))
    if (nn::is_lora_name(p.key())) {
      p.value().set_requires_grad(true);
      params.emplace_back(p.key(), p.value());
    }
  return params;
}

// ---------------------------------------------------------------------------------------------------
// Features -> logits -> loss

// lp and img-lora-lp train a fresh Linear(D, C) head on the image features; clip-img-lora has no head
// and scores the features against the zero-shot class prompts (logits_per_image), as the reference
// trains it.
struct Classifier {
  nn::Linear head{nullptr};
  at::Tensor class_embeddings;  // [C, D] on the model's device, clip-img-lora only

  at::Tensor logits(const ContrastiveTowers& model, const at::Tensor& features) {
    return head ? head->forward(features.to(at::kFloat)) : zero_shot_logits(model, features, class_embeddings);
  }
};

Classifier make_classifier(ContrastiveTowers& model, Mode mode, const RunContext& ctx, int64_t num_outputs) {
  Classifier c;
  if (mode == Mode::kClipImgLora) {
    c.class_embeddings = class_text_embeddings(model, class_prompts(ctx.dataset.class_texts, ctx.cfg.prompt_template))
                             .to(model.device());
  } else {
    c.head = nn::Linear(model.embed_dim(), num_outputs, /*bias=*/true);
    c.head->to(model.device());
  }
  return c;
}

// The reference's loss: cross-entropy weighted by w_c = N / (count_c * C), or per-label binary
// cross-entropy (unweighted) for multi-label datasets.
struct DiagnosisLoss {
  bool multi_label = false;
  at::Tensor class_weights;  // single-label only

  at::Tensor operator()(const at::Tensor& logits, const at::Tensor& targets) const {
    if (multi_label) return at::binary_cross_entropy_with_logits(logits, targets);
    return at::cross_entropy_loss(logits, targets, class_weights);
  }
};

// The weights count every training sample the dataset lists, also those whose image later fails to
// decode: the reference computes them from the dataset's labels before any image is opened.
DiagnosisLoss make_loss(const std::vector<Sample>& train, bool multi_label, int64_t num_outputs,
                        const ContrastiveTowers& model, Mode mode) {
  DiagnosisLoss loss;
  loss.multi_label = multi_label;
  // Built for multi-label datasets too: this is where a sample with the wrong number of labels stops
  // the run, before any image is read.
  const at::Tensor labels = label_tensor(train, multi_label, num_outputs);
  if (multi_label) return loss;
  loss.class_weights = class_weights(labels, num_outputs).to(model.device());
  spdlog::info("{}: class weights {}", mode_name(mode), tensor_list(loss.class_weights));
  return loss;
}

// The optimiser (scheduled_adamw.h) as the reference's HF Trainer sets it up from the command line.
ScheduleOptions schedule_options(const RunConfig& cfg) {
  ScheduleOptions o;
  o.learning_rate = cfg.learning_rate;
  o.weight_decay = cfg.weight_decay;
  o.lr_scheduler_type = cfg.lr_scheduler_type;
  o.warmup_ratio = cfg.warmup_ratio;
  o.max_grad_norm = cfg.max_grad_norm;
  return o;
}

// ---------------------------------------------------------------------------------------------------
// One run

class DiagnosisTraining {
 public:
  DiagnosisTraining(RunContext& ctx, ContrastiveTowers& model, Mode mode)
      : ctx_(ctx),
        cfg_(ctx.cfg),
        model_(model),
        mode_(mode),
        multi_label_(ctx.dataset.multi_label),
        num_outputs_(static_cast<int64_t>(ctx.dataset.class_texts.size())),
        epochs_(static_cast<int>(std::ceil(cfg_.num_train_epochs))) {
    // Everything below that draws random numbers (LoRA's A matrices, the head, the epoch permutations,
    // LoRA dropout) draws them from this seed, in this order.
    torch::manual_seed(static_cast<uint64_t>(cfg_.seed));
    // The input every feature and training batch uses (extract_features and the tower loop pick the
    // same one); recorded in run.json and mvb_head.json so its evaluation can check it.
    input_ = diagnosis_input(cfg_, cfg_.dataset, model_.transform());
    splits_ = load_splits(ctx_);
    lora_ = attach_vision_lora(model_, mode_, cfg_);
    std::vector<std::pair<std::string, at::Tensor>> params;
    if (lora_.trained) params = trainable_adapters(model_);
    classifier_ = make_classifier(model_, mode_, ctx_, num_outputs_);
    if (classifier_.head)
      for (auto& p : classifier_.head->named_parameters()) params.emplace_back("head." + p.key(), p.value());
    loss_ = make_loss(splits_.train, multi_label_, num_outputs_, model_, mode_);
    if (!lora_.trained) frozen_ = frozen_features(model_, splits_, cfg_);
    const std::vector<Sample>& trained_on = lora_.trained ? splits_.train : frozen_.train.samples;
    num_train_ = static_cast<int64_t>(trained_on.size());
    if (!lora_.trained) frozen_labels_ = label_tensor(trained_on, multi_label_, num_outputs_).to(model_.device());
    // HF Trainer's count: floor(batches / accumulation) updates per epoch (at least one) times the epochs,
    // rounded up; a fractional last epoch stops when the schedule is spent.
    const int64_t batches_per_epoch = (num_train_ + batch_size() - 1) / batch_size();
    const int64_t total =
        total_update_steps(batches_per_epoch, cfg_.gradient_accumulation_steps, cfg_.num_train_epochs, /*max_steps=*/0);
    optimizer_ = std::make_unique<ScheduledAdamW>(schedule_options(cfg_), std::move(params), total);
    spdlog::info("{}: {} samples, {} batches of {} per epoch, accumulation {}, {} optimizer updates", mode_name(mode_),
                 num_train_, batches_per_epoch, batch_size(), cfg_.gradient_accumulation_steps, total);
  }

  void run() {
    io::JsonlWriter history(io::join_path(ctx_.run_dir, "eval_history.jsonl"), io::JsonlWriter::Mode::kTruncate);
    const auto t0 = std::chrono::steady_clock::now();
    double last_loss = 0;
    int epochs_run = 0;
    // Whole epochs, as HF Trainer's ceil(--num_train_epochs); the last one stops early when the schedule
    // is spent (fractional epochs, or a remainder window per epoch under accumulation).
    for (int epoch = 1; epoch <= epochs_ && !cancel_requested() && !optimizer_->done(); ++epoch) {
      // The epoch's shuffle: one draw from the seeded generator per epoch, whichever loop runs.
      const at::Tensor perm = at::randperm(num_train_, at::kLong);
      last_loss = lora_.trained ? train_epoch_through_tower(perm) : train_epoch_on_features(perm);
      epochs_run = epoch;
      spdlog::info("{}: epoch {}/{} loss {:.4f} ({}/{} updates)", mode_name(mode_), epoch, epochs_, last_loss,
                   optimizer_->updates(), optimizer_->total_updates());
      const bool last = epoch == epochs_ || optimizer_->done();
      if (cfg_.eval_every > 0 && (epoch - 1) % cfg_.eval_every == 0 && !last) evaluate(epoch, history);
    }
    evaluate(epochs_run, history);
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    save_checkpoint(last_loss);
    record_stats(train_s, last_loss);
  }

 private:
  int64_t batch_size() const { return cfg_.per_device_train_batch_size; }

  // Micro-batches become optimizer updates: a window of --gradient_accumulation_steps of them, or fewer
  // at the end of an epoch (flush). Keeps the mean loss of the epoch's updates.
  class UpdateWindows {
   public:
    UpdateWindows(ScheduledAdamW& optimizer, int accumulation) : optimizer_(optimizer), accumulation_(accumulation) {}
    void add(ScheduledAdamW::MicroBatchLoss micro_batch) {
      window_.push_back(std::move(micro_batch));
      if (static_cast<int>(window_.size()) == accumulation_) flush();
    }
    void flush() {
      if (window_.empty() || optimizer_.done()) return;
      loss_sum_ += optimizer_.step(window_);
      ++updates_;
      window_.clear();
    }
    double mean_loss() const { return updates_ ? loss_sum_ / static_cast<double>(updates_) : 0.0; }

   private:
    ScheduledAdamW& optimizer_;
    const int accumulation_;
    std::vector<ScheduledAdamW::MicroBatchLoss> window_;
    double loss_sum_ = 0;
    int64_t updates_ = 0;
  };

  // Frozen tower: batches of the cached features in `perm` order. Returns the mean update loss.
  double train_epoch_on_features(const at::Tensor& perm) {
    const at::Tensor feats = frozen_.train.features.to(model_.device());
    UpdateWindows updates(*optimizer_, cfg_.gradient_accumulation_steps);
    for (int64_t b = 0; b < num_train_ && !optimizer_->done(); b += batch_size()) {
      const at::Tensor idx = perm.slice(0, b, std::min(num_train_, b + batch_size())).to(model_.device());
      const at::Tensor x = feats.index_select(0, idx), y = frozen_labels_.index_select(0, idx);
      updates.add([this, x, y] { return loss_(classifier_.logits(model_, x), y); });
    }
    updates.flush();
    return updates.mean_loss();
  }

  // Trained adapters: every batch is decoded (in the prefetcher's workers) and goes through the tower
  // with gradients when its update runs (a window keeps pixels, not graphs). A sample whose image fails
  // is skipped with a warning, every epoch. Returns the mean update loss.
  double train_epoch_through_tower(const at::Tensor& perm) {
    model_.vision_tower().train();  // LoRA dropout on
    std::vector<Sample> order;
    for (int64_t i = 0; i < num_train_; ++i) order.push_back(splits_.train[perm[i].item<int64_t>()]);
    VectorSampleReader reader(std::move(order));
    const ImageTransform& transform = input_.transform;
    BatchPrefetcher prefetch(
        reader, [&transform](const Sample& s) { return preprocess(decode_image(s.images.front()), transform); },
        static_cast<int>(batch_size()), cfg_.num_workers);
    UpdateWindows updates(*optimizer_, cfg_.gradient_accumulation_steps);
    std::vector<PreparedSample> batch;
    while (!optimizer_->done() && prefetch.next(batch) && !cancel_requested()) {
      std::vector<at::Tensor> pixels;
      std::vector<Sample> ok;
      for (auto& p : batch)
        if (p.error.empty()) {
          pixels.push_back(p.pixels);
          ok.push_back(p.sample);
        } else {
          spdlog::warn("skipping training sample {}: {}", p.sample.id, p.error);
        }
      if (pixels.empty()) continue;
      const at::Tensor x = at::stack(pixels).to(model_.device(), model_.dtype());
      const at::Tensor y = label_tensor(ok, multi_label_, num_outputs_).to(model_.device());
      updates.add(
          [this, x, y] { return loss_(classifier_.logits(model_, model_.image_features(x).to(at::kFloat)), y); });
    }
    if (!cancel_requested()) updates.flush();
    model_.vision_tower().eval();
    return updates.mean_loss();
  }

  // Scores the test split with the weights as they are now; appends the metrics to eval_history.jsonl,
  // synced so that a run killed later keeps them. Without a test split there is nothing to score.
  void evaluate(int epoch, io::JsonlWriter& history) {
    if (splits_.test.empty()) return;
    torch::NoGradGuard no_grad;
    model_.root().eval();
    // Trained adapters change the features, so they are recomputed; a frozen tower's are the cached ones.
    const FeatureSet fs = lora_.trained ? extract_features(model_, splits_.test, cfg_) : frozen_.test;
    const at::Tensor logits = classifier_.logits(model_, fs.features.to(model_.device()));
    // SigLIP-style models score prompts with a sigmoid, not a softmax over classes.
    const bool sigmoid = multi_label_ || (mode_ == Mode::kClipImgLora && model_.sigmoid_logits());
    last_eval_ = evaluate_probs(logits_to_probs(logits, sigmoid), fs.samples, multi_label_);
    last_eval_["epoch"] = epoch;
    history.write(last_eval_);
    history.sync();
    spdlog::info("{}: epoch {} test accuracy {} auc {}", mode_name(mode_), epoch, last_eval_["accuracy"].dump(),
                 last_eval_["auc"].dump());
  }

  // mvb_head.json, the head and the adapters: what `medvlmbench eval --model_path RUN_DIR` rebuilds the
  // classifier from, without this command line (head_checkpoint.h).
  void save_checkpoint(double final_loss) {
    const nlohmann::json lora = lora_.attached ? nlohmann::json{{"r", lora_.config.r},
                                                                {"alpha", lora_.config.alpha},
                                                                {"dropout", lora_.config.dropout},
                                                                {"layers", lora_.layers},
                                                                {"trained", lora_.trained}}
                                               : nlohmann::json();
    const nlohmann::json meta = {
        {"format", "medvlmbench-diagnosis-head/1"},
        {"usage", mode_name(mode_)},
        {"model", cfg_.model},
        {"base_model_path", std::filesystem::absolute(model_.checkpoint_dir()).lexically_normal().string()},
        {"fingerprint", model_.fingerprint()},
        {"dataset", cfg_.dataset},
        {"class_texts", ctx_.dataset.class_texts},
        {"multi_label", multi_label_},
        {"embed_dim", model_.embed_dim()},
        {"prompt_template", cfg_.prompt_template},
        {"lora", lora},
        {"reference_compat",
         input_.reference_quirk ? nlohmann::json::array({kChestXrayQuirk}) : nlohmann::json::array()},
        {"epochs", epochs_},
        {"learning_rate", cfg_.learning_rate},
        {"final_train_loss", final_loss},
        {"final_eval", last_eval_}};
    ContrastiveTowers* model = &model_;
    save_head(ctx_.run_dir, meta, classifier_.head ? &classifier_.head : nullptr,
              lora_.attached ? &model_.vision_tower() : nullptr,
              [model](const std::string& n) { return model->peft_module_name(n); });
    spdlog::info(
        "{}: saved {} in {}; evaluate with `medvlmbench eval --task diagnosis --usage {} --model {} "
        "--model_path {} ...`",
        mode_name(mode_), kHeadMetaFile, ctx_.run_dir, mode_name(mode_), cfg_.model, ctx_.run_dir);
  }

  // run.json's usage_stats.
  void record_stats(double train_s, double final_loss) {
    ctx_.stats = {{"train_samples", num_train_},
                  {"test_samples", splits_.test.size()},
                  {"epochs", epochs_},
                  {"steps", optimizer_->updates()},
                  {"gradient_accumulation_steps", cfg_.gradient_accumulation_steps},
                  {"train_seconds", train_s},
                  {"final_train_loss", final_loss},
                  {"final_eval", last_eval_},
                  {"features_from_cache", frozen_.train.from_cache}};
    record_diagnosis_input(ctx_.stats, input_);
  }

  RunContext& ctx_;
  const RunConfig& cfg_;
  ContrastiveTowers& model_;
  const Mode mode_;
  const bool multi_label_;
  const int64_t num_outputs_;
  const int epochs_;
  DiagnosisInput input_;
  Splits splits_;
  VisionLora lora_;
  Classifier classifier_;
  DiagnosisLoss loss_;
  FrozenFeatures frozen_;     // only when the tower is frozen
  at::Tensor frozen_labels_;  // labels of frozen_.train.samples, on the model's device
  int64_t num_train_ = 0;     // samples per epoch
  std::unique_ptr<ScheduledAdamW> optimizer_;
  nlohmann::json last_eval_;
};

class DiagnosisTrainRunner : public UsageRunner {
 public:
  explicit DiagnosisTrainRunner(Mode m) : mode_(m) {}

  void run(RunContext& ctx) override {
    const RunConfig& cfg = ctx.cfg;
    auto* model = dynamic_cast<ContrastiveTowers*>(ctx.model);
    MVB_CHECK(model != nullptr, "usage ", mode_name(mode_),
              " needs a contrastive model (CLIP, SigLIP, BioMedCLIP ...)");
    MVB_USAGE_CHECK(cfg.num_train_epochs > 0, "--num_train_epochs is required for --usage ", mode_name(mode_),
                    " (the reference takes it from the HF command line)");
    MVB_USAGE_CHECK(cfg.per_device_train_batch_size > 0, "--per_device_train_batch_size must be positive");
    MVB_USAGE_CHECK(cfg.gradient_accumulation_steps > 0, "--gradient_accumulation_steps must be positive");
    // An unknown --lr_scheduler_type (the CLI refuses one; a RunConfig built in code may not) stops the
    // run here rather than at the first step, after the features are computed.
    lr_factor(cfg.lr_scheduler_type, /*step=*/0, /*total=*/1, /*warmup=*/0);
    DiagnosisTraining(ctx, *model, mode_).run();
  }

 private:
  Mode mode_;
};

}  // namespace

MVB_REGISTER(usage_registry(), usage_key("lp", "diagnosis"),
             UsageEntry{"lp",
                        "diagnosis",
                        "train",
                        {"contrastive"},
                        "Linear probe on frozen (cached) image features, class-weighted cross-entropy",
                        [] { return std::make_unique<DiagnosisTrainRunner>(Mode::kLp); }});
MVB_REGISTER(usage_registry(), usage_key("img-lora-lp", "diagnosis"),
             UsageEntry{"img-lora-lp",
                        "diagnosis",
                        "train",
                        {"contrastive"},
                        "LoRA on the vision tower + linear head (--lora_head_only: the reference's head-only run)",
                        [] { return std::make_unique<DiagnosisTrainRunner>(Mode::kImgLoraLp); }});
MVB_REGISTER(usage_registry(), usage_key("clip-img-lora", "diagnosis"),
             UsageEntry{"clip-img-lora",
                        "diagnosis",
                        "train",
                        {"contrastive"},
                        "LoRA on the vision tower trained on logits_per_image against the zero-shot prompts",
                        [] { return std::make_unique<DiagnosisTrainRunner>(Mode::kClipImgLora); }});

}  // namespace mvb::train
