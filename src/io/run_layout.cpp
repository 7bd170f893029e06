#include "medvlmbench/io/run_layout.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"

namespace fs = std::filesystem;

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

std::vector<std::string> set_aside_previous_outputs(const std::string& run_dir) {
  const std::vector<std::string> names = {kMetricsFile, kResultsCsvFile, kReferencePredictionsFile, kPredictionsFile,
                                          kManifestFile};
  bool any = false;
  for (const auto& n : names) any = any || io::exists(io::join_path(run_dir, n));
  if (!any) return {};
  // One set of .previous files, all from the same run: drop the older set before moving this one.
  for (const auto& n : names) io::remove_file(io::join_path(run_dir, n + kPreviousSuffix));
  std::vector<std::string> moved;
  for (const auto& n : names) {
    const std::string from = io::join_path(run_dir, n);
    if (!io::exists(from)) continue;
    io::rename_file(from, from + kPreviousSuffix);
    moved.push_back(n);
  }
  return moved;
}

namespace io {

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw Error("cannot remove " + path + ": " + std::strerror(errno));
}

void rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw Error("cannot rename " + from + " to " + to + ": " + std::strerror(errno));
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code fec;
    if (!e.is_regular_file(fec) || e.is_symlink(fec)) continue;
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) continue;
    // "<name>.tmp.<pid>" (write_file_atomic) or "<name>.tmp.<pid>.<n>" (the response cache).
    std::string pid_text = name.substr(at + 5);
    const size_t dot = pid_text.find('.');
    const std::string rest = dot == std::string::npos ? "" : pid_text.substr(dot + 1);
    if (dot != std::string::npos) pid_text.resize(dot);
    if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos ||
        (dot != std::string::npos && (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos)))
      continue;
    const long pid = std::stol(pid_text);
    if (pid <= 0 || pid == ::getpid()) continue;
    // kill(pid, 0) fails with ESRCH only when no such process exists; EPERM means it runs (as
    // another user), so its file stays.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (::unlink(e.path().c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace io

}  // namespace mvb
