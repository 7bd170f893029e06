#include "medvlmbench/io/run_layout.h"

#include "medvlmbench/io/files.h"

namespace mvb {

std::string eval_run_dir(const RunConfig& cfg) {
  std::string dir = io::join_path(cfg.exp_path, cfg.task);
  dir = io::join_path(dir, cfg.dataset);
  dir = io::join_path(dir, cfg.model);
  dir = io::join_path(dir, "eval_seed" + std::to_string(cfg.seed));
  dir = io::join_path(dir, io::basename(cfg.model_path));
  if (!cfg.usage.empty()) dir = io::join_path(dir, cfg.usage);
  return dir;
}

std::string train_run_dir(const RunConfig& cfg) {
  std::string dir = io::join_path(io::join_path(io::join_path(cfg.output_dir, cfg.task), cfg.dataset), cfg.model);
  if (cfg.task == "diagnosis") return io::join_path(dir, "train_" + cfg.usage + "_seed" + std::to_string(cfg.seed));
  // run_train.py's save_folder_name: --peft as Python formats it (None when not given), forced to ""
  // for LLaVA with --tune_modules M, and the suffix its LoRA loader looks for in the name.
  std::string peft = cfg.peft.empty() ? "None" : cfg.peft;
  const bool llava = cfg.model == "LLaVA-1.5" || cfg.model == "LLaVA-Med";
  if (llava && cfg.tune_modules == "M") peft = "";
  std::string name = "train_" + peft + "_" + cfg.tune_modules + "_seed" + std::to_string(cfg.seed);
  if (cfg.model == "LLaVA-1.5") name += "_llava";
  if (cfg.model == "LLaVA-Med") name += "_llava_mistral";
  if (cfg.model == "Lingshu") name += "_lingshu";
  if (cfg.model == "NVILA") name += "_nvila";
  if (cfg.model == "VILA1.5") name += "_vila";
  if (cfg.model == "VILA-M3") name += "_vila_m3";
  return io::join_path(dir, name);
}

}  // namespace mvb
