// Helpers for the contrastive model tests: building a registered model on a fixture checkpoint (whose
// library outputs support/expected_outputs.h reads).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>

#include "medvlmbench/models/contrastive_towers.h"
#include "support/expected_outputs.h"

namespace mvb::test {

std::unique_ptr<ContrastiveTowers> load_contrastive(const std::string& name, const std::string& dir,
                                                    const std::string& dtype = "auto");

// The published preprocessing of a model on tests/fixtures/models/preprocess-images/{image_gray,image_rgb}.png
// (a grayscale image scaled up, an RGB one scaled down): our decode + transform against the library's
// `preprocessed_<name>` outputs (1e-5), then our image tower on that input against
// `<embeds_prefix><name>` (1e-4). Returns the largest preprocessing difference.
double expect_preprocessing_parity(ContrastiveTowers& model, const ExpectedOutputs& ref,
                                   const std::string& embeds_prefix);

}  // namespace mvb::test
