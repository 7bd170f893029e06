// Copying a StateDict into a torch::nn::Module, with the report PyTorch's load_state_dict gives.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/io/state_dict.h"

namespace torch::nn {
class Module;
}

namespace mvb::io {

struct LoadReport {
  std::vector<std::string> missing;     // module parameters/buffers without a tensor
  std::vector<std::string> unexpected;  // tensors no parameter/buffer wanted
  std::vector<std::string> mismatched;  // "name: checkpoint [a, b] vs module [c, d]"
  size_t loaded = 0;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string summary() const;  // one line, first few names of each kind
};

struct LoadOptions {
  bool strict = true;  // throw mvb::Error (with the summary) unless report.ok()
  // Names allowed to be missing/unexpected even when strict (exact names or prefixes ending in '.').
  std::vector<std::string> ignore_missing;
  std::vector<std::string> ignore_unexpected;
  // Cast the module to this dtype before copying (the copy itself always casts to the module's dtype).
  std::optional<at::ScalarType> dtype;
};

// Copies every matching tensor into the module's parameters and buffers (no autograd). Shapes must
// match exactly; pages of the mapping are released after each copy, so peak memory stays at about
// one copy of the model.
LoadReport load_into(torch::nn::Module& module, const StateDict& sd, const LoadOptions& opts = {});

}  // namespace mvb::io
