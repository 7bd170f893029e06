// clip-zs: zero-shot diagnosis with a contrastive model, as the reference's CLIPBase.forward: the class
// prompts "a photo of {class text}" are encoded once, every image is scored by logits_per_image, and
// the probabilities are a softmax over classes (sigmoid for SigLIP-style models, whose logits carry a
// bias and were trained with a sigmoid loss). Images are decoded and preprocessed on worker threads
// while the model encodes the previous batch.
#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/tasks/image_diagnosis_loop.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/tasks/zero_shot.h"

namespace mvb {
namespace {

class ClipZeroShotRunner : public UsageRunner {
 public:
  void run(RunContext& ctx) override {
    auto* model = dynamic_cast<ContrastiveModel*>(ctx.model);
    MVB_CHECK(model != nullptr, "usage clip-zs needs a contrastive model (CLIP, SigLIP, BioMedCLIP ...)");
    const bool sigmoid = model->sigmoid_logits();
    const auto prompts = class_prompts(ctx.dataset.class_texts, ctx.cfg.prompt_template);
    const at::Tensor classes = class_text_embeddings(*model, prompts);
    spdlog::info("clip-zs: {} classes x {} prompt template(s), e.g. \"{}\"; scores = {}", prompts.size(),
                 prompts.front().size(), prompts.front().front(), sigmoid ? "sigmoid" : "softmax over classes");
    ctx.stats["prompts"] = prompts;
    ctx.stats["score_function"] = sigmoid ? "sigmoid" : "softmax";
    ctx.stats["logit_scale"] = model->logit_scale();
    ctx.stats["logit_bias"] = model->logit_bias();

    // Softmax scores of a multi-label dataset are thresholded at 1/C (no class stands out).
    const double threshold = sigmoid ? 0.5 : 1.0 / static_cast<double>(prompts.size());
    ctx.stats["model_seconds"] = run_image_diagnosis(
        ctx, "clip-zs", model->transform(),
        [&](const at::Tensor& pixels) {
          return logits_to_probs(zero_shot_logits(*model, model->encode_image(pixels), classes), sigmoid);
        },
        threshold);
  }
};

}  // namespace

MVB_REGISTER(usage_registry(), usage_key("clip-zs", "diagnosis"),
             UsageEntry{"clip-zs",
                        "diagnosis",
                        "eval",
                        {"contrastive"},
                        "Zero-shot classification with \"a photo of {class}\" prompts (logits_per_image)",
                        [] { return std::make_unique<ClipZeroShotRunner>(); }});

}  // namespace mvb
