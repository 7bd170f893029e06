// What the diagnosis LP / LoRA usages save in their run folder, so that
// `medvlmbench eval --usage lp --model_path RUN_DIR` can rebuild the classifier without the training
// command line (unlike the reference, whose pytorch_model.bin holds only the backbone):
//   mvb_head.json       base checkpoint path, model, usage, classes, LoRA settings, fingerprint
//   head.safetensors    the linear head: weight [C, D], bias [C]          (lp, img-lora-lp)
//   lora.safetensors    LoRA adapters of the vision tower (lora_A, lora_B, lora_embedding_A/B) (img-lora-lp,
//   clip-img-lora), our module names
//   adapter_config.json + adapter_model.safetensors   the same adapters in PEFT's format, for models whose
//                       vision tower has a PEFT name mapping (CLIP, PLIP, PubMedCLIP, SigLIP, MedSigLIP):
//                       `PeftModel.from_pretrained(CLIPModel.vision_model, RUN_DIR)` loads them
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "medvlmbench/nn/linear.h"

namespace mvb::train {

inline constexpr const char* kHeadMetaFile = "mvb_head.json";
inline constexpr const char* kHeadWeightsFile = "head.safetensors";
inline constexpr const char* kLoraWeightsFile = "lora.safetensors";

// Puts a LoRA adapter on every Linear of `tower` and on every embedding table that the published
// model holds in an nn.Embedding (the reference targets every nn.Linear / nn.Embedding of the vision
// tower with PEFT: HF CLIP's and SigLIP's position_embedding; timm's pos_embed is a Parameter and is
// left alone). Returns how many layers got one.
int apply_lora(torch::nn::Module& tower, const nn::LoraConfig& cfg);
// The LoRA config the diagnosis usages use: the reference's r 8, alpha 32, dropout 0.05, unless the
// user changed --lora_r/--lora_alpha/--lora_dropout from their (VQA) defaults.
nn::LoraConfig diagnosis_lora_config(int lora_r, int lora_alpha, double lora_dropout);

// PEFT's adapter folder (PeftModel.save_pretrained / PeftModel.from_pretrained): adapter_config.json and
// adapter_model.safetensors with keys "base_model.model.<module>.lora_A.weight" / ".lora_B.weight"
// (Linear) and "base_model.model.<module>.lora_embedding_A" / "...B" (Embedding), where <module> is the
// module's name in the published PyTorch tower the reference wraps with get_peft_model.
inline constexpr const char* kPeftConfigFile = "adapter_config.json";
inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";
// Our module path inside the tower -> the published tower's (nullopt: no known mapping).
using PeftNameFn = std::function<std::optional<std::string>(const std::string&)>;

// Writes the tower's adapters (all with one LoraConfig) as a PEFT adapter folder. Returns false, writing
// nothing, when `names` maps some adapted module to nullopt.
bool save_peft_adapter(const std::string& dir, torch::nn::Module& tower, const PeftNameFn& names);
// The LoraConfig of a PEFT adapter_config.json; an mvb::Error naming the file for what we do not
// implement (not LORA, DoRA, rsLoRA, per-module rank/alpha patterns, bias other than "none", fan_in_fan_out).
nn::LoraConfig read_peft_config(const std::string& dir);
// Copies a PEFT adapter into the tower (apply_lora with read_peft_config first). An adapted module the
// file does not hold (a PEFT config with fewer target_modules, e.g. only q/k/v) gets PEFT's initial,
// zero change; a tensor in the file that matches no module or has another shape is an error.
// Returns the number of modules loaded.
int load_peft_adapter(const std::string& dir, torch::nn::Module& tower, const PeftNameFn& names);

// Writes mvb_head.json, head.safetensors and lora.safetensors; with `peft_names`, also the PEFT adapter
// folder files (when every adapted module has a PEFT name).
void save_head(const std::string& run_dir, const nlohmann::json& meta, nn::Linear* head, torch::nn::Module* lora_tower,
               const PeftNameFn& peft_names = nullptr);
nlohmann::json load_head_meta(const std::string& run_dir);
// Loads head weights into `head` (sized from the file) and adapters into `lora_tower` (after
// apply_lora with the saved config): from lora.safetensors, or, in a folder holding only a PEFT adapter,
// from that (with `peft_names`). Errors name the file.
nn::Linear load_head_weights(const std::string& run_dir);
void load_lora_weights(const std::string& run_dir, torch::nn::Module& lora_tower,
                       const PeftNameFn& peft_names = nullptr);

}  // namespace mvb::train
