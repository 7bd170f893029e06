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
  // A shard (--shard i/n with n > 1, a Slurm array task, a --devices worker) writes below the folder
  // the whole run would use, so shards sharing one --exp_path never share a predictions file and
  // `medvlmbench merge` fills the folder above them.
  const size_t slash = cfg.shard.find('/');
  if (slash != std::string::npos && cfg.shard.substr(slash + 1) != "1")
    dir = io::join_path(dir, "shard-" + cfg.shard.substr(0, slash) + "-of-" + cfg.shard.substr(slash + 1));
  return dir;
}

std::string train_run_dir(const RunConfig& cfg) {
  std::string dir = io::join_path(io::join_path(io::join_path(cfg.output_dir, cfg.task), cfg.dataset), cfg.model);
  if (cfg.task == "diagnosis") return io::join_path(dir, "train_" + cfg.usage + "_seed" + std::to_string(cfg.seed));
  return io::join_path(dir, "train_" + cfg.peft + "_" + cfg.tune_modules + "_seed" + std::to_string(cfg.seed));
}

}  // namespace mvb
