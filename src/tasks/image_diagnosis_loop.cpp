#include "medvlmbench/tasks/image_diagnosis_loop.h"

#include <ATen/ATen.h>

#include <chrono>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/tasks/zero_shot.h"
#include "medvlmbench/vision/prefetch.h"

namespace mvb {

double run_image_diagnosis(RunContext& ctx, const std::string& label, const ImageTransform& transform,
                           const std::function<at::Tensor(const at::Tensor&)>& probs, double multi_label_threshold) {
  const int batch_size = ctx.cfg.batch_size > 0 ? ctx.cfg.batch_size : 64;  // the reference's DataLoader size
  BatchPrefetcher prefetch(
      *ctx.samples,
      [&transform](const Sample& s) {
        MVB_CHECK(s.error.empty(), s.error);
        MVB_CHECK(!s.images.empty(), "sample has no image");
        return preprocess(decode_image(s.images.front()), transform);
      },
      batch_size, ctx.cfg.num_workers);
  Progress progress(label, ctx.total > 0 ? static_cast<size_t>(ctx.total) : 0);
  std::vector<PreparedSample> batch;
  double model_s = 0;
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
      const at::Tensor p = probs(at::stack(inputs));
      model_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (size_t i = 0; i < ok.size(); ++i)
        ctx.sink->write(
            diagnosis_row(ok[i]->sample, p[static_cast<int64_t>(i)], ctx.dataset.multi_label, multi_label_threshold));
    }
    ctx.sink->checkpoint();
    progress.advance(batch.size());
  }
  progress.finish();
  return model_s;
}

}  // namespace mvb
