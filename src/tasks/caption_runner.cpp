// Off-the-shelf report generation (captioning) with a generative model; the loop is shared with
// VQA (generative_runner.h). The reference's caption prompt is
// "Can you provide a medical report for this image? {}".format("").strip().
#include "generative_runner.h"
#include "medvlmbench/core/strings.h"

namespace mvb {
namespace {

constexpr const char* kCaptionPrompt = "Can you provide a medical report for this image?";

class CaptionRunner : public UsageRunner {
 public:
  void run(RunContext& ctx) override {
    GenerativeTaskSpec spec;
    spec.task = "caption";
    spec.fallback_prompt = [](const Sample&) { return std::string(kCaptionPrompt); };
    run_generative(ctx, spec);
  }
};

}  // namespace

MVB_REGISTER(usage_registry(), usage_key(kOffTheShelfUsage, "caption"),
             UsageEntry{kOffTheShelfUsage,
                        "caption",
                        "eval",
                        {"generative"},
                        "Off-the-shelf medical report generation with a generative model (local or API)",
                        [] { return std::make_unique<CaptionRunner>(); }});

}  // namespace mvb
