// Moving checkpoint tensors into modules. Each model renames checkpoint names onto its module names
// (and splits fused tensors) into a TensorMap, then assign_weights() copies them with the report
// PyTorch's load_state_dict(strict=True) gives: every parameter must be found with the right shape.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/io/state_dict.h"

namespace mvb::nn {

using TensorMap = std::map<std::string, at::Tensor>;
// checkpoint name -> module name, or nullopt to skip the tensor (unused heads, buffers).
using RenameFn = std::function<std::optional<std::string>(const std::string&)>;

// For checkpoints whose names are our module names (the Hugging Face layouts): every tensor keeps its
// name except the "position_ids" buffers older transformers saved (arange tables we do not store).
std::optional<std::string> drop_position_ids(const std::string& name);

// Reads (lazily mapped) tensors from `sd`, renamed by `rename`; two names mapping to one is an error.
TensorMap read_weights(const io::StateDict& sd, const RenameFn& rename);

struct AssignReport {
  std::vector<std::string> missing, unexpected, mismatched;
  size_t loaded = 0;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string summary() const;
};

// Copies every tensor into the parameter or buffer of the same name (casting to its dtype/device).
// Parameter names starting with one of `optional_prefixes` may be absent (e.g. LoRA adapters).
// Throws mvb::Error naming `source` and the summary unless the report is clean.
AssignReport assign_weights(torch::nn::Module& module, const TensorMap& tensors, const std::string& source,
                            const std::vector<std::string>& optional_names = {});

// Parameters whose full name satisfies `keep`, as (name, tensor) pairs for io::write_safetensors.
std::vector<std::pair<std::string, at::Tensor>> named_tensors(
    torch::nn::Module& module, const std::function<bool(const std::string&)>& keep = nullptr);

// Whether a module name ends with / contains a LoRA adapter parameter.
bool is_lora_name(const std::string& name);

}  // namespace mvb::nn
