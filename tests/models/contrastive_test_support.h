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

}  // namespace mvb::test
