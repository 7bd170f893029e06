// Helpers for the contrastive model tests: building a registered model on a fixture checkpoint and
// running a Python reference oracle on the same inputs.
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

// Writes `inputs` to a safetensors file, runs scripts/reference/<script> CKPT IN OUT with Debian's
// python3 and returns the tensors it wrote. Fails the test (ADD_FAILURE + empty map) when it fails.
std::map<std::string, at::Tensor> run_reference(const std::string& script, const std::string& ckpt,
                                                const std::map<std::string, at::Tensor>& inputs);

}  // namespace mvb::test
