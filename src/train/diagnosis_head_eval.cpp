// Evaluation of a trained diagnosis head: `medvlmbench eval --task diagnosis --usage lp|img-lora-lp|
// clip-img-lora --model <name> --model_path RUN_DIR`. The model factory loads the base checkpoint
// recorded in RUN_DIR/mvb_head.json; this runner adds the saved LoRA adapters (merged into the weights
// for speed) and the head, then scores every sample: softmax over classes as the reference's
// DiagnosisEvalEngine (sigmoid per label for multi-label datasets). Image features of a frozen tower
// come from the on-disk feature cache, so evaluating twice runs the vision tower once.
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/tasks/image_diagnosis_loop.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/tasks/zero_shot.h"
#include "medvlmbench/train/diagnosis_data.h"
#include "medvlmbench/train/head_checkpoint.h"

namespace mvb::train {
namespace {

class DiagnosisHeadEvalRunner : public UsageRunner {
 public:
  explicit DiagnosisHeadEvalRunner(std::string usage) : usage_(std::move(usage)) {}

  void run(RunContext& ctx) override {
    const RunConfig& cfg = ctx.cfg;
    auto* model = dynamic_cast<ContrastiveTowers*>(ctx.model);
    MVB_CHECK(model != nullptr, "usage ", usage_, " needs a contrastive model");
    const nlohmann::json meta = load_head_meta(cfg.model_path);
    const std::string trained = meta.value("usage", "");
    MVB_USAGE_CHECK(trained == usage_, cfg.model_path, " was trained with --usage ", trained,
                    "; evaluate it with --usage ", trained);
    MVB_USAGE_CHECK(meta.value("model", "") == cfg.model, cfg.model_path, " holds a head for model ",
                    meta.value("model", ""), ", not ", cfg.model);
    const auto classes = meta.value("class_texts", std::vector<std::string>{});
    MVB_USAGE_CHECK(classes.size() == ctx.dataset.class_texts.size(), cfg.model_path, " was trained for ",
                    classes.size(), " classes (", meta.value("dataset", ""), ") but ", cfg.dataset, " has ",
                    ctx.dataset.class_texts.size());
    if (meta.value("fingerprint", "") != model->fingerprint())
      spdlog::warn("{}: the base checkpoint {} changed since training (fingerprint {} vs {})", usage_,
                   model->checkpoint_dir(), meta.value("fingerprint", ""), model->fingerprint());

    // The head was trained on one input (the model's processor, or the reference's ChestXray squash under
    // --reference_compat); evaluating it on the other is allowed (it is what the flags say) but is
    // rarely meant, so it is said and recorded.
    const DiagnosisInput input = diagnosis_input(cfg, cfg.dataset, model->transform());
    const nlohmann::json head_quirks = meta.value("reference_compat", nlohmann::json::array());
    const bool head_quirk =
        std::find(head_quirks.begin(), head_quirks.end(), nlohmann::json(kChestXrayQuirk)) != head_quirks.end();
    if (head_quirk != input.reference_quirk)
      spdlog::warn(
          "{}: {} was trained on {} but is evaluated on {}; pass the same --reference_compat to train and eval", usage_,
          cfg.model_path, head_quirk ? "the reference's ChestXray input" : "the model's processor",
          input.reference_quirk ? "the reference's ChestXray input" : "the model's processor");

    std::string extra_key;
    if (meta.contains("lora") && meta["lora"].is_object()) {
      nn::LoraConfig l;
      l.r = meta["lora"].value("r", 8);
      l.alpha = meta["lora"].value("alpha", 32.0);
      l.dropout = meta["lora"].value("dropout", 0.05);
      apply_lora(model->vision_tower(), l);
      model->root().to(model->device(), model->dtype());
      load_lora_weights(cfg.model_path, model->vision_tower(),
                        [model](const std::string& n) { return model->peft_module_name(n); });
      for (auto& [name, lin] : nn::find_linears(model->vision_tower())) lin->merge_lora();
      for (auto& [name, emb] : nn::find_embeddings(model->vision_tower())) emb->merge_lora();
      const std::string lora_file = io::join_path(cfg.model_path, kLoraWeightsFile);
      extra_key = "lora:" + fingerprint_files({lora_file}, "lora");
    }
    nn::Linear head{nullptr};
    at::Tensor class_emb;
    if (usage_ == "clip-img-lora") {
      class_emb =
          class_text_embeddings(*model, class_prompts(classes, meta.value("prompt_template", cfg.prompt_template)));
    } else {
      head = load_head_weights(cfg.model_path);
      head->to(model->device());
      MVB_CHECK(head->in_features == model->embed_dim(), cfg.model_path, " head expects ", head->in_features,
                "-d features; the model gives ", model->embed_dim());
    }

    std::vector<Sample> samples = drain(*ctx.samples);
    std::vector<Sample> usable;
    for (auto& s : samples) {
      if (!s.error.empty())
        ctx.sink->write(error_row(s, s.error));
      else
        usable.push_back(std::move(s));
    }
    FeatureSet fs = cached_features(*model, usable, cfg, cfg.split, extra_key);
    for (const auto& row : fs.failed) ctx.sink->write(row);
    torch::NoGradGuard no_grad;
    const bool multi = ctx.dataset.multi_label;
    at::Tensor feats = fs.features.to(model->device());
    at::Tensor logits = head ? head->forward(feats) : zero_shot_logits(*model, feats, class_emb);
    const bool sig = multi || (!head && model->sigmoid_logits());
    at::Tensor probs = logits_to_probs(logits, sig).to(at::kCPU);
    for (size_t i = 0; i < fs.samples.size(); ++i)
      ctx.sink->write(
          diagnosis_row(fs.samples[i], probs[static_cast<int64_t>(i)], multi, sig ? 0.5 : 1.0 / probs.size(1)));
    ctx.sink->checkpoint();
    ctx.stats = {
        {"features_from_cache", fs.from_cache}, {"feature_cache", fs.cache_file}, {"head_run", cfg.model_path}};
    record_diagnosis_input(ctx.stats, input);
    ctx.stats["head_reference_compat"] = head_quirks;
  }

 private:
  std::string usage_;
};

UsageEntry eval_entry(const std::string& usage, const std::string& what) {
  return UsageEntry{usage,           "diagnosis", "eval",
                    {"contrastive"}, what,        [usage] { return std::make_unique<DiagnosisHeadEvalRunner>(usage); }};
}

}  // namespace

// Keys differ from the train entries' (one registry entry per usage, task and kind).
MVB_REGISTER(usage_registry(), usage_key("lp", "diagnosis") + "#eval",
             eval_entry("lp", "Evaluate a linear probe trained by `train --usage lp` (--model_path RUN_DIR)"));
MVB_REGISTER(usage_registry(), usage_key("img-lora-lp", "diagnosis") + "#eval",
             eval_entry("img-lora-lp", "Evaluate LoRA + head trained by `train --usage img-lora-lp`"));
MVB_REGISTER(usage_registry(), usage_key("clip-img-lora", "diagnosis") + "#eval",
             eval_entry("clip-img-lora",
                        "Zero-shot with the LoRA-adapted vision tower of `train --usage clip-img-lora`"));

}  // namespace mvb::train
