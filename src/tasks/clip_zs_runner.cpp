// clip-zs: zero-shot diagnosis with a contrastive model, as the reference's CLIPBase.forward: the class
// prompts "a photo of {class text}" are encoded once, every image is scored by logits_per_image, and
// the probabilities are a softmax over classes (sigmoid for SigLIP-style models, whose logits carry a
// bias and were trained with a sigmoid loss). Images are decoded and preprocessed on worker threads
// while the model encodes the previous batch.
#include <ATen/ATen.h>

#include <chrono>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/tasks/zero_shot.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/prefetch.h"

namespace mvb {
namespace {

class ClipZeroShotRunner : public UsageRunner {
 public:
  void run(RunContext& ctx) override {
    auto* model = dynamic_cast<ContrastiveModel*>(ctx.model);
    MVB_CHECK(model != nullptr, "usage clip-zs needs a contrastive model (CLIP, SigLIP, BioMedCLIP ...)");
    const bool multi_label = ctx.dataset.multi_label;
    const bool sigmoid = model->sigmoid_logits();
    const auto prompts = class_prompts(ctx.dataset.class_texts, ctx.cfg.prompt_template);
    const at::Tensor classes = class_text_embeddings(*model, prompts);
    spdlog::info("clip-zs: {} classes x {} prompt template(s), e.g. \"{}\"; scores = {}", prompts.size(),
                 prompts.front().size(), prompts.front().front(), sigmoid ? "sigmoid" : "softmax over classes");
    ctx.stats["prompts"] = prompts;
    ctx.stats["score_function"] = sigmoid ? "sigmoid" : "softmax";
    ctx.stats["logit_scale"] = model->logit_scale();
    ctx.stats["logit_bias"] = model->logit_bias();

    const int batch_size = ctx.cfg.batch_size > 0 ? ctx.cfg.batch_size : 64;  // the reference's DataLoader size
    const ImageTransform transform = model->transform();
    BatchPrefetcher prefetch(
        *ctx.samples,
        [&transform](const Sample& s) {
          MVB_CHECK(s.error.empty(), s.error);
          MVB_CHECK(!s.images.empty(), "sample has no image");
          return preprocess(decode_image(s.images.front()), transform);
        },
        batch_size, ctx.cfg.num_workers);
    Progress progress("clip-zs", ctx.total > 0 ? static_cast<size_t>(ctx.total) : 0);
    std::vector<PreparedSample> batch;
    double encode_s = 0;
    while (!cancel_requested() && prefetch.next(batch)) {
      std::vector<at::Tensor> inputs;
      std::vector<const PreparedSample*> ok;
      for (const auto& p : batch) {
        if (!p.error.empty()) {
          ctx.sink->write(error_row(p.sample, p.error));
          continue;
        }
        inputs.push_back(p.pixels);
        ok.push_back(&p);
      }
      if (!inputs.empty()) {
        const auto t0 = std::chrono::steady_clock::now();
        at::Tensor probs =
            logits_to_probs(zero_shot_logits(*model, model->encode_image(at::stack(inputs)), classes), sigmoid);
        encode_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // Softmax scores of a multi-label dataset are thresholded at 1/C (no class stands out).
        const double threshold = sigmoid ? 0.5 : 1.0 / static_cast<double>(prompts.size());
        for (size_t i = 0; i < ok.size(); ++i)
          ctx.sink->write(diagnosis_row(ok[i]->sample, probs[static_cast<int64_t>(i)], multi_label, threshold));
      }
      ctx.sink->checkpoint();
      progress.advance(batch.size());
    }
    progress.finish();
    ctx.stats["model_seconds"] = encode_s;
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
