// Checks shared by the CLIP and SigLIP tests against fixtures that transformers itself produced
// (tests/oracles/models/make_hf_clip_fixtures.py): expected.safetensors holds the library's token ids,
// pixel values and features, fixture.json the texts and image files they came from.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "medvlmbench/models/contrastive_towers.h"
#include "support/expected_outputs.h"

namespace mvb::test {

// What fixture.json lists: the texts tokenised and the image files processed (absolute paths).
struct ParityInputs {
  std::vector<std::string> texts;
  std::vector<std::string> images;
};
ParityInputs read_parity_inputs(const std::string& fixture_dir);

// Our pixels for the image files: decode (as PIL's convert("RGB")) + the model's transform, stacked.
at::Tensor our_pixels(const std::vector<std::string>& image_files, const ImageTransform& t);

// Prints "[measured] <what>: max |ours - transformers| = <d>" (the numbers fixture.json records as
// max_abs_diff_measured) and returns d.
double report_diff(const std::string& what, const at::Tensor& ours, const at::Tensor& library);

// Copies every file of `src` except weight files (*.safetensors, *.bin) to `dst`.
void copy_non_weight_files(const std::string& src, const std::string& dst);

}  // namespace mvb::test
