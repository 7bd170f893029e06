// Pieces of the generative trainer (src/train/generative_trainer.cpp) that tests and tools reach:
// the run folder's file names, checkpoints and the loss-curve plot.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/train/optim.h"

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
// A line plot of (step, loss) as a standalone SVG.
void write_loss_svg(const std::string& path, const std::vector<std::pair<int64_t, double>>& points);

}  // namespace mvb::train
