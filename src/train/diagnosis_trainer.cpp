// Training usages of the diagnosis task (`medvlmbench train --task diagnosis --usage ...`):
//   lp            frozen image features (get_image_features, cached on disk) -> Linear(D, C)
//   img-lora-lp   LoRA (r 8, alpha 32, dropout 0.05) on every Linear of the vision tower + Linear head,
//                 BOTH trained. The reference runs the tower under no_grad, so its adapters never
//                 train; --lora_head_only reproduces that (then it is lp with zero adapters).
//   clip-img-lora LoRA on the vision tower only, trained through logits_per_image against the
//                 zero-shot class prompts ("a photo of {class}").
// As the reference's CLIPLPTrainer: class-weighted cross-entropy (w_c = N / (count_c * C)), AdamW with
// --learning_rate / --weight_decay, HF's linear schedule with --warmup_ratio, gradient clipping at
// --max_grad_norm, and an evaluation on the test split after epoch 1, 11, 21 ... (--eval_every) and at
// the end. Multi-label datasets use per-label sigmoid outputs with binary cross-entropy.
#include <ATen/ATen.h>
#include <torch/types.h>

// clip_grad.h relies on torch/types.h being included before it.
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

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
#include "medvlmbench/vision/prefetch.h"

namespace mvb::train {
namespace {

enum class Mode { kLp, kImgLoraLp, kClipImgLora };

const char* mode_name(Mode m) {
  return m == Mode::kLp ? "lp" : m == Mode::kImgLoraLp ? "img-lora-lp" : "clip-img-lora";
}

double schedule(const RunConfig& cfg, int64_t step, int64_t total) {
  const int64_t warmup = static_cast<int64_t>(std::ceil(cfg.warmup_ratio * total));
  if (step < warmup) return static_cast<double>(step) / std::max<int64_t>(1, warmup);
  const double progress = static_cast<double>(step - warmup) / std::max<int64_t>(1, total - warmup);
  if (cfg.lr_scheduler_type == "cosine") return 0.5 * (1.0 + std::cos(M_PI * progress));
  if (cfg.lr_scheduler_type == "constant" || cfg.lr_scheduler_type == "constant_with_warmup") return 1.0;
  return std::max(0.0, 1.0 - progress);  // "linear", HF's default
}

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
    const bool multi = ctx.dataset.multi_label;
    const int64_t num_out = static_cast<int64_t>(ctx.dataset.class_texts.size());
    const int epochs = static_cast<int>(std::ceil(cfg.num_train_epochs));
    torch::manual_seed(static_cast<uint64_t>(cfg.seed));
    // The input every feature and training batch below uses (extract_features and the tower loop pick
    // the same one); recorded in run.json and mvb_head.json so its evaluation can check it.
    const DiagnosisInput input = diagnosis_input(cfg, cfg.dataset, model->transform());

    std::vector<Sample> train = drain(*ctx.samples);
    MVB_CHECK(!train.empty(), "no training samples in ", cfg.dataset, " split ", cfg.split);
    std::vector<Sample> test;
    const auto& splits = ctx.dataset.splits;
    if (std::find(splits.begin(), splits.end(), "test") != splits.end()) test = load_split(cfg, "test");

    const bool lora = mode_ != Mode::kLp;
    const bool train_tower = lora && !(mode_ == Mode::kImgLoraLp && cfg.lora_head_only);
    nn::LoraConfig lcfg = diagnosis_lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout);
    int adapted = 0;
    if (lora) {
      adapted = apply_lora(model->vision_tower(), lcfg);
      model->root().to(model->device(), model->dtype());
      spdlog::info("{}: LoRA r={} alpha={} dropout={} on {} layers (Linear, Embedding) of the vision tower ({})",
                   mode_name(mode_), lcfg.r, lcfg.alpha, lcfg.dropout, adapted,
                   train_tower ? "trained" : "frozen, as the reference: only the head trains");
    }
    std::vector<at::Tensor> params;
    if (train_tower)
      for (auto& p : model->vision_tower().named_parameters(true))
        if (nn::is_lora_name(p.key())) {
          p.value().set_requires_grad(true);
          params.push_back(p.value());
        }

    nn::Linear head{nullptr};
    at::Tensor class_emb;
    if (mode_ == Mode::kClipImgLora) {
      class_emb = class_text_embeddings(*model, class_prompts(ctx.dataset.class_texts, cfg.prompt_template))
                      .to(model->device());
    } else {
      head = nn::Linear(model->embed_dim(), num_out, true);
      head->to(model->device());
      for (auto& p : head->parameters()) params.push_back(p);
    }
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(cfg.learning_rate).weight_decay(cfg.weight_decay));

    const at::Tensor train_labels_all = label_tensor(train, multi, num_out);
    const at::Tensor weights = multi ? at::Tensor() : class_weights(train_labels_all, num_out).to(model->device());
    if (!multi) spdlog::info("{}: class weights {}", mode_name(mode_), tensor_list(weights));

    // Frozen tower: image features once (cached on disk), then epochs over tensors.
    FeatureSet train_fs, test_fs;
    if (!train_tower) {
      train_fs = cached_features(*model, train, cfg, cfg.split);
      if (!test.empty()) test_fs = cached_features(*model, test, cfg, "test");
      for (const auto& f : train_fs.failed)
        spdlog::warn("skipping training sample {}: {}", f.value("id", "?"), f.value("error", ""));
    }
    const std::vector<Sample>& train_samples = train_tower ? train : train_fs.samples;
    const at::Tensor labels = label_tensor(train_samples, multi, num_out).to(model->device());
    const int64_t n = static_cast<int64_t>(train_samples.size());
    const int64_t bs = cfg.per_device_train_batch_size;
    const int64_t steps_per_epoch = (n + bs - 1) / bs;
    const int64_t total_steps = steps_per_epoch * epochs;
    int64_t step = 0;

    auto logits_of = [&](const at::Tensor& feats) {
      return mode_ == Mode::kClipImgLora ? zero_shot_logits(*model, feats, class_emb)
                                         : head->forward(feats.to(at::kFloat));
    };
    auto loss_of = [&](const at::Tensor& logits, const at::Tensor& y) {
      if (multi) return at::binary_cross_entropy_with_logits(logits, y);
      return at::cross_entropy_loss(logits, y, weights);
    };
    auto train_step = [&](const at::Tensor& feats, const at::Tensor& y) {
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(cfg.learning_rate * schedule(cfg, step, total_steps));
      opt.zero_grad();
      at::Tensor loss = loss_of(logits_of(feats), y);
      loss.backward();
      if (cfg.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, cfg.max_grad_norm);
      opt.step();
      ++step;
      return loss.item<double>();
    };

    const std::string history_path = io::join_path(ctx.run_dir, "eval_history.jsonl");
    io::JsonlWriter history(history_path, io::JsonlWriter::Mode::kTruncate);
    nlohmann::json last_eval;
    auto evaluate = [&](int epoch) {
      if (test.empty()) return;
      torch::NoGradGuard no_grad;
      model->root().eval();
      FeatureSet fs = train_tower ? extract_features(*model, test, cfg) : test_fs;
      at::Tensor logits = logits_of(fs.features.to(model->device()));
      const bool sig = multi || (mode_ == Mode::kClipImgLora && model->sigmoid_logits());
      last_eval = evaluate_probs(logits_to_probs(logits, sig), fs.samples, multi);
      last_eval["epoch"] = epoch;
      history.write(last_eval);
      history.sync();
      spdlog::info("{}: epoch {} test accuracy {} auc {}", mode_name(mode_), epoch, last_eval["accuracy"].dump(),
                   last_eval["auc"].dump());
    };

    const auto t0 = std::chrono::steady_clock::now();
    double last_loss = 0;
    for (int epoch = 1; epoch <= epochs && !cancel_requested(); ++epoch) {
      at::Tensor perm = at::randperm(n, at::kLong);
      double sum = 0;
      int64_t batches = 0;
      if (!train_tower) {
        const at::Tensor feats = train_fs.features.to(model->device());
        for (int64_t b = 0; b < n; b += bs) {
          at::Tensor idx = perm.slice(0, b, std::min(n, b + bs)).to(model->device());
          sum += train_step(feats.index_select(0, idx), labels.index_select(0, idx));
          ++batches;
        }
      } else {
        model->vision_tower().train();
        std::vector<Sample> order;
        for (int64_t i = 0; i < n; ++i) order.push_back(train[perm[i].item<int64_t>()]);
        VectorSampleReader reader(std::move(order));
        const ImageTransform transform = diagnosis_transform(*model, cfg);
        BatchPrefetcher prefetch(
            reader, [&transform](const Sample& s) { return preprocess(decode_image(s.images.front()), transform); },
            static_cast<int>(bs), cfg.num_workers);
        std::vector<PreparedSample> batch;
        while (prefetch.next(batch) && !cancel_requested()) {
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
          at::Tensor feats = model->image_features(at::stack(pixels).to(model->device(), model->dtype()));
          sum += train_step(feats.to(at::kFloat), label_tensor(ok, multi, num_out).to(model->device()));
          ++batches;
        }
        model->vision_tower().eval();
      }
      last_loss = batches ? sum / batches : 0.0;
      spdlog::info("{}: epoch {}/{} loss {:.4f}", mode_name(mode_), epoch, epochs, last_loss);
      if (cfg.eval_every > 0 && (epoch - 1) % cfg.eval_every == 0 && epoch != epochs) evaluate(epoch);
    }
    evaluate(epochs);
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    nlohmann::json meta = {
        {"format", "medvlmbench-diagnosis-head/1"},
        {"usage", mode_name(mode_)},
        {"model", cfg.model},
        {"base_model_path", std::filesystem::absolute(model->checkpoint_dir()).lexically_normal().string()},
        {"fingerprint", model->fingerprint()},
        {"dataset", cfg.dataset},
        {"class_texts", ctx.dataset.class_texts},
        {"multi_label", multi},
        {"embed_dim", model->embed_dim()},
        {"prompt_template", cfg.prompt_template},
        {"lora", lora ? nlohmann::json{{"r", lcfg.r},
                                       {"alpha", lcfg.alpha},
                                       {"dropout", lcfg.dropout},
                                       {"layers", adapted},
                                       {"trained", train_tower}}
                      : nlohmann::json()},
        {"reference_compat",
         input.reference_quirk ? nlohmann::json::array({kChestXrayQuirk}) : nlohmann::json::array()},
        {"epochs", epochs},
        {"learning_rate", cfg.learning_rate},
        {"final_train_loss", last_loss},
        {"final_eval", last_eval}};
    save_head(ctx.run_dir, meta, head ? &head : nullptr, lora ? &model->vision_tower() : nullptr,
              [model](const std::string& n) { return model->peft_module_name(n); });
    spdlog::info(
        "{}: saved {} in {}; evaluate with `medvlmbench eval --task diagnosis --usage {} --model {} "
        "--model_path {} ...`",
        mode_name(mode_), kHeadMetaFile, ctx.run_dir, mode_name(mode_), cfg.model, ctx.run_dir);
    ctx.stats = {{"train_samples", n},       {"test_samples", test.size()},
                 {"epochs", epochs},         {"steps", step},
                 {"train_seconds", train_s}, {"final_train_loss", last_loss},
                 {"final_eval", last_eval},  {"features_from_cache", train_fs.from_cache}};
    record_diagnosis_input(ctx.stats, input);
  }

 private:
  static std::string tensor_list(const at::Tensor& t) {
    std::string s = "[";
    at::Tensor c = t.to(at::kCPU, at::kDouble);
    for (int64_t i = 0; i < c.numel(); ++i) s += (i ? ", " : "") + std::to_string(c[i].item<double>());
    return s + "]";
  }
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
