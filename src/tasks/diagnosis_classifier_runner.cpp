// Off-the-shelf diagnosis with an image classifier: the model's own head gives logits, turned into
// class probabilities with a softmax (a sigmoid per label for multi-label datasets or a single-logit
// head, as the reference does).
#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/tasks/image_diagnosis_loop.h"
#include "medvlmbench/tasks/usage.h"

namespace mvb {
namespace {

class ClassifierDiagnosisRunner : public UsageRunner {
 public:
  void run(RunContext& ctx) override {
    auto* clf = dynamic_cast<ImageClassifier*>(ctx.model);
    MVB_CHECK(clf != nullptr, "usage ots/diagnosis needs an image classifier model");
    const bool multi_label = ctx.dataset.multi_label;
    ctx.stats["model_seconds"] =
        run_image_diagnosis(ctx, "diagnosis", clf->transform(), [clf, multi_label](const at::Tensor& pixels) {
          const at::Tensor logits = clf->classify(pixels).to(at::kCPU, at::kFloat);
          return multi_label || logits.size(1) == 1 ? logits.sigmoid() : logits.softmax(1);
        });
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
