// The batch loop shared by the image-diagnosis eval usages (off-the-shelf classifiers, clip-zs):
// ordered prefetch with parallel decode + preprocessing, an error row for each sample that fails,
// one diagnosis row (rows.h) per scored sample, an fsync checkpoint and a progress update per batch,
// and a clean stop between batches on Ctrl-C / SIGTERM.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/vision/image.h"

namespace mvb {

// `probs` maps a stacked pixel batch [N,3,H,W] to class probabilities [N,C]; multi-label datasets
// predict label i when probs[i] >= multi_label_threshold. Returns the seconds spent inside `probs`.
double run_image_diagnosis(RunContext& ctx, const std::string& label, const ImageTransform& transform,
                           const std::function<at::Tensor(const at::Tensor&)>& probs,
                           double multi_label_threshold = 0.5);

}  // namespace mvb
