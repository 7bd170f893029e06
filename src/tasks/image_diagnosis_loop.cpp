#include "medvlmbench/tasks/image_diagnosis_loop.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/tasks/zero_shot.h"
#include "medvlmbench/vision/prefetch.h"

namespace mvb {
namespace {
// Defect 6 (issue 18): on CPU a sample's probabilities changed with the batch it ran in (batch 63 vs 64
// changed 2,369 of 3,000 rows in the 7th digit), so --resume after a kill and --shard were not
// bitwise equal to one uninterrupted run. The cause is the row count M of every product: oneDNN's
// matmul and the vectorised elementwise kernels pick their blocking, thread split and scalar tail by
// M, and the rows that land in a different block or tail are computed in another order (measured with
// the tiny CLIP: at batch 63 the last three images differ from batch 64, the first sixty do not).
// Encoding each image on its own gives every sample the same shapes, hence the same kernels and the
// same bits, whatever batch, shard or resume point it came in; the batch still amortises decoding and
// the fsync. MVB_CPU_BATCH_INVARIANT=0 encodes whole batches (faster on CPU, last bits batch-dependent).
// CUDA keeps whole batches: cuBLAS is not bitwise batch-invariant either, and there batching is the speed.
bool encode_per_sample(const c10::Device& device) {
  if (!device.is_cpu()) return false;
  static const bool on = [] {
    const char* env = std::getenv("MVB_CPU_BATCH_INVARIANT");
    return !(env && std::string(env) == "0");
  }();
  return on;
}

bool wants_quirk(const RunConfig& cfg, const std::string& name) {
  for (const auto& q : cfg.reference_compat)
    if (q == name || q == "all") return true;
  return false;
}

ImageTransform reference_chestxray_transform() {
  ImageTransform t;
  t.resize_mode = "exact";
  t.resize_width = t.resize_height = 224;
  t.interpolation = "bilinear";  // torchvision Resize on a PIL image: PIL's bilinear filter
  t.crop = 0;
  t.normalize = false;  // ToTensor: x / 255 only
  return t;
}
}  // namespace

DiagnosisInput diagnosis_input(const RunConfig& cfg, const std::string& dataset,
                               const ImageTransform& model_transform) {
  DiagnosisInput in;
  in.reference_quirk = dataset == "ChestXray" && wants_quirk(cfg, kChestXrayQuirk);
  in.transform = in.reference_quirk ? reference_chestxray_transform() : model_transform;
  return in;
}

void record_diagnosis_input(nlohmann::json& stats, const DiagnosisInput& in) {
  if (in.reference_quirk)
    spdlog::info(
        "--reference_compat {}: ChestXray images are squashed to 224x224 and not normalised, as the "
        "reference's dataset does, instead of the model's processor",
        kChestXrayQuirk);
  stats["reference_compat"] = in.reference_quirk ? nlohmann::json::array({kChestXrayQuirk}) : nlohmann::json::array();
  stats["input_transform"] = in.reference_quirk ? "the reference's ChestXray input: 224x224 bilinear squash, [0, 1], "
                                                  "not normalised (--reference_compat chestxray_transform)"
                                                : "the model's processor";
}

double run_image_diagnosis(RunContext& ctx, const std::string& label, const ImageTransform& transform,
                           const std::function<at::Tensor(const at::Tensor&)>& probs, double multi_label_threshold) {
  const int batch_size = ctx.cfg.batch_size > 0 ? ctx.cfg.batch_size : 64;  // the reference's DataLoader size
  const DiagnosisInput input = diagnosis_input(ctx.cfg, ctx.dataset.name, transform);
  const ImageTransform& used = input.transform;
  record_diagnosis_input(ctx.stats, input);
  BatchPrefetcher prefetch(
      *ctx.samples,
      [&transform = used](const Sample& s) {
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
      at::Tensor p;
      if (encode_per_sample(ctx.device) && inputs.size() > 1) {
        std::vector<at::Tensor> rows;
        rows.reserve(inputs.size());
        for (const auto& x : inputs) rows.push_back(probs(x.unsqueeze(0)));
        p = at::cat(rows);
      } else {
        p = probs(at::stack(inputs));
      }
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
