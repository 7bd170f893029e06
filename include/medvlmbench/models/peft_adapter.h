// Loading a PEFT LoRA adapter folder onto a local generative model for evaluation, as the reference's
// loaders do with `--model_path ADAPTER --model_base BASE` (LLaVA: base + non_lora_trainables +
// PeftModel.from_pretrained + merge_and_unload; Lingshu / Qwen: base + PeftModel.from_pretrained):
// the base weights load first, then these two calls.
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <optional>
#include <string>

namespace mvb {

// Our module path -> the module path in the published PyTorch model (PEFT's key stem).
using PeftModuleNameFn = std::function<std::optional<std::string>(const std::string&)>;

// Whether `dir` holds a PEFT adapter (adapter_config.json).
bool is_peft_adapter_dir(const std::string& dir);

// Puts every adapter of <dir>/adapter_model.safetensors on the Linear of `root` it names, with the
// r / lora_alpha of adapter_config.json, and merges it into the weight (merge_and_unload). Biases the
// adapter trained (bias "all" / "lora_only": "<module>.bias" or "<module>.base_layer.bias") replace
// the base's. Every
// tensor in the file must find its module; an mvb::Error names the file and key otherwise.
// Returns the number of merged modules.
int merge_peft_adapter(torch::nn::Module& root, const std::string& dir, const PeftModuleNameFn& names);

// The trainable non-LoRA tensors saved beside the adapter (<dir>/non_lora_trainables.safetensors, keys
// "<published module>.<param>"), copied over the base's (the projector a LLaVA run tuned). Returns
// how many were loaded (0 when the file is absent).
int load_non_lora_trainables(torch::nn::Module& root, const std::string& dir, const PeftModuleNameFn& names);

}  // namespace mvb
