// Pieces of the generative trainer (src/train/generative_trainer.cpp) that tests and tools reach:
// the run folder's file names, checkpoints and the loss-curve plot.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/nn/linear.h"
#include "medvlmbench/train/optim.h"
#include "medvlmbench/train/sft.h"

namespace mvb::train {

inline constexpr const char* kTrainMetricsFile = "train_metrics.jsonl";
inline constexpr const char* kLossCurveFile = "loss_curve.svg";
inline constexpr const char* kNonLoraFile = "non_lora_trainables.safetensors";
// Inside checkpoint-N/.
inline constexpr const char* kTrainableFile = "trainable.safetensors";
inline constexpr const char* kOptimizerFile = "optimizer.safetensors";  // AdamW state + "__rng__"
inline constexpr const char* kTrainerStateFile = "trainer_state.json";  // step, epoch, data position

// Steps of the complete checkpoint-N folders in `run_dir`, ascending.
std::vector<int> list_checkpoints(const std::string& run_dir);
// Writes checkpoint-<step> atomically (a .tmp folder renamed into place).
void save_checkpoint(const std::string& run_dir, int64_t step,
                     const std::vector<std::pair<std::string, at::Tensor>>& trainable, const AdamW& opt,
                     const nlohmann::json& state);
// Removes the oldest checkpoints beyond `keep` (0 = keep all).
void prune_checkpoints(const std::string& run_dir, int keep);
void load_trainable(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& trainable);
// What a run trains, with requires_grad set accordingly (everything else frozen): the LoRA adapters,
// the parameters under plan.full_prefixes, and with LoRA the biases --lora_bias names, as PEFT marks
// them: "all" = every parameter whose name contains "bias" (LayerNorm biases too), "lora_only" = the
// biases of the adapted Linear layers, "none" = none.
std::vector<std::pair<std::string, at::Tensor>> select_trainable(torch::nn::Module& root, const TrainPlan& plan,
                                                                 bool lora, const std::string& lora_bias);

struct SaveOptions {
  bool lora = false;
  nn::LoraConfig lcfg;
  std::string lora_bias = "none";
  bool merge_lora = false;  // LoRA runs: also write <dir>/merged/, the full model with the adapters merged
};
inline constexpr const char* kMergedDir = "merged";

// What a finished run writes into its folder. LoRA: adapter_config.json + adapter_model.safetensors
// (PEFT's keys; with --lora_bias the trained biases under PEFT's names: "<module>.base_layer.bias" for
// adapted layers, "<module>.bias" otherwise), non_lora_trainables.*, the family's extras, and with
// merge_lora the merged model in <dir>/merged/. Full fine-tuning: the whole model as a Hugging Face
// folder in <dir> itself (as the reference's safe_save_model_for_hf_trainer), which eval --model_path
// and transformers' from_pretrained load.
void save_generative_outputs(TrainableVlm& t, const std::string& dir,
                             const std::vector<std::pair<std::string, at::Tensor>>& trainable, const SaveOptions& o);

// The model as a Hugging Face checkpoint folder: model.safetensors with every parameter under the
// published model's names (t.peft_name), LoRA adapters merged into their weights as PEFT's
// merge_and_unload does (the in-memory model is left as it is), plus the base folder's config,
// generation config, tokenizer and processor files.
void export_hf_model(TrainableVlm& t, const std::string& dir);

// A line plot of (step, loss) as a standalone SVG.
void write_loss_svg(const std::string& path, const std::vector<std::pair<int64_t, double>>& points);

}  // namespace mvb::train
