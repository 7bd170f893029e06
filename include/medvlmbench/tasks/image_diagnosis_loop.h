// The batch loop shared by the image-diagnosis eval usages (off-the-shelf classifiers, clip-zs):
// ordered prefetch with parallel decode + preprocessing, an error row for each sample that fails,
// one diagnosis row (rows.h) per scored sample, an fsync checkpoint and a progress update per batch,
// and a clean stop between batches on Ctrl-C / SIGTERM.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/core/run_config.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/vision/image.h"

namespace mvb {

// The input a diagnosis usage feeds the image tower. The reference's ChestXray dataset ignores the
// model's transform and feeds Resize((224, 224)) + ToTensor (squashed, [0, 1], not normalised) in
// every usage, zero-shot and linear probe alike; `--reference_compat chestxray_transform` (or all)
// reproduces that, otherwise the model's own processor runs (REFERENCE.md: the intended input). Every
// diagnosis path (clip-zs, off-the-shelf classifiers, lp / img-lora-lp / clip-img-lora training,
// their evaluation and the feature cache) picks its input here, so a probe sees one input throughout.
inline constexpr const char* kChestXrayQuirk = "chestxray_transform";
struct DiagnosisInput {
  ImageTransform transform;
  bool reference_quirk = false;  // the reference's ChestXray input instead of the model's processor
};
DiagnosisInput diagnosis_input(const RunConfig& cfg, const std::string& dataset, const ImageTransform& model_transform);
// run.json's record of it: "reference_compat" (the quirks that ran) and "input_transform" (in words).
void record_diagnosis_input(nlohmann::json& stats, const DiagnosisInput& in);

// `probs` maps a stacked pixel batch [N,3,H,W] to class probabilities [N,C]; multi-label datasets
// predict label i when probs[i] >= multi_label_threshold. Returns the seconds spent inside `probs`.
double run_image_diagnosis(RunContext& ctx, const std::string& label, const ImageTransform& transform,
                           const std::function<at::Tensor(const at::Tensor&)>& probs,
                           double multi_label_threshold = 0.5);

}  // namespace mvb
