// Off-the-shelf diagnosis with an image classifier: batch, prefetch-decode, classify, write one row
// per sample with the class probabilities (softmax; sigmoid per label for multi-label datasets or a
// single-logit head, as the reference does).
#include <ATen/ATen.h>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/prefetch.h"

namespace mvb {
namespace {

class ClassifierDiagnosisRunner : public UsageRunner {
 public:
  void run(RunContext& ctx) override {
    auto* clf = dynamic_cast<ImageClassifier*>(ctx.model);
    MVB_CHECK(clf != nullptr, "usage ots/diagnosis needs an image classifier model");
    const int batch_size = ctx.cfg.batch_size > 0 ? ctx.cfg.batch_size : 64;  // the reference's DataLoader size
    const ImageTransform transform = clf->transform();
    BatchPrefetcher prefetch(
        *ctx.samples,
        [&transform](const Sample& s) {
          MVB_CHECK(!s.images.empty(), "sample has no image");
          return preprocess(decode_image(s.images.front()), transform);
        },
        batch_size, ctx.cfg.num_workers);
    Progress progress("diagnosis", ctx.total > 0 ? static_cast<size_t>(ctx.total) : 0);
    std::vector<PreparedSample> batch;
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
        at::Tensor logits = clf->classify(at::stack(inputs)).to(at::kCPU, at::kFloat);
        const bool sigmoid = ctx.dataset.multi_label || logits.size(1) == 1;
        at::Tensor probs = sigmoid ? logits.sigmoid() : logits.softmax(1);
        for (size_t i = 0; i < ok.size(); ++i) {
          at::Tensor p = probs[static_cast<int64_t>(i)].contiguous();
          std::vector<double> scores(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
          nlohmann::json row = {{"id", ok[i]->sample.id},
                                {"image_path", ok[i]->sample.image_path()},
                                {"label", ok[i]->sample.labels},
                                {"scores", scores}};
          if (ctx.dataset.multi_label) {
            std::vector<int> pred;
            for (double s : scores) pred.push_back(s >= 0.5 ? 1 : 0);
            row["pred"] = pred;
          } else {
            row["pred"] = scores.size() == 1 ? (scores[0] >= 0.5 ? 1 : 0) : p.argmax().item<int64_t>();
          }
          ctx.sink->write(row);
        }
      }
      ctx.sink->checkpoint();
      progress.advance(batch.size());
    }
    progress.finish();
  }
};

}  // namespace

MVB_REGISTER(usage_registry(), usage_key(kOffTheShelfUsage, "diagnosis"),
             UsageEntry{kOffTheShelfUsage,
                        "diagnosis",
                        "eval",
                        {"classifier"},
                        "Off-the-shelf classification with the model's own head",
                        [] { return std::make_unique<ClassifierDiagnosisRunner>(); }});

}  // namespace mvb
