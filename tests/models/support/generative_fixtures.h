// What the tests of the local generative models (tests/models/*_test.cpp) share when they read the
// fixtures of tests/oracles/models/make_*_fixtures.py: stored ids, the library's pixels, fp32 specs and
// requests built from a fixture case.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/models/model.h"
#include "support/expected_outputs.h"

namespace mvb::test {

// A stored id tensor (any shape, any integer dtype) as a flat vector.
std::vector<int64_t> ids_of(const at::Tensor& t);

// pixel_values rebuilt from the stored 8-bit indices "<c>.pixel_index" [N, 3, H, W] and the processor's
// table "lut" [3, 256]: the library's floats bit for bit, without storing them.
at::Tensor library_pixels(const ExpectedOutputs& e, const std::string& c);

// The registry model `name` on the checkpoint folder `dir`, in fp32, with `options` (an object, or null).
ModelSpec fp32_spec(const std::string& dir, const std::string& name, const nlohmann::json& options = {});

// A fixture case {"prompt": ..., "images": [paths relative to the source tree]} as a request.
GenerationRequest prompt_images_request(const nlohmann::json& c);

}  // namespace mvb::test
