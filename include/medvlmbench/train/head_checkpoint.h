// What the diagnosis LP / LoRA usages save in their run folder, so that
// `medvlmbench eval --usage lp --model_path RUN_DIR` can rebuild the classifier without the training
// command line (unlike the reference, whose pytorch_model.bin holds only the backbone):
//   mvb_head.json       base checkpoint path, model, usage, classes, LoRA settings, fingerprint
//   head.safetensors    the linear head: weight [C, D], bias [C]          (lp, img-lora-lp)
//   lora.safetensors    LoRA adapters of the vision tower (lora_A, lora_B, lora_embedding_A/B) (img-lora-lp,
//   clip-img-lora)
#pragma once

#include <torch/nn/module.h>

#include <nlohmann/json.hpp>
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

void save_head(const std::string& run_dir, const nlohmann::json& meta, nn::Linear* head, torch::nn::Module* lora_tower);
nlohmann::json load_head_meta(const std::string& run_dir);
// Loads head weights into `head` (sized from the file) and adapters into `lora_tower` (after
// apply_lora with the saved config). Errors name the file.
nn::Linear load_head_weights(const std::string& run_dir);
void load_lora_weights(const std::string& run_dir, torch::nn::Module& lora_tower);

}  // namespace mvb::train
