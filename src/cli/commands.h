// The subcommands behind main(); each returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"

namespace mvb::cli {

struct ListOptions {
  std::string what = "all";
  std::string format = "text";
};

struct CheckOptions {
  std::string dataset;
  std::string image_path;
  std::string task;
  std::string model_path;
  std::string model;      // for original_pretrained / not_given: whose default checkpoint
  std::string cache_dir;  // searched before the Hugging Face environment's caches
  std::string format = "text";
  std::string dtype = "auto";  // the model is built on the CPU in this precision (bf16 halves the memory)
};

struct JudgeOptions {
  std::string run_dir;
  std::string mode = "open";   // open | mc
  std::string scope = "open";  // open | all
  bool force = false;
  bool mc_all = false;
  int bootstrap = 1000;
  std::string format = "text";
  RunConfig api;  // judge, judge_api_base, judge_api_model, api_* and cache flags
};

std::string version_string();
CLI::App* add_judge_command(CLI::App& app, JudgeOptions& opts);
int cmd_judge(const JudgeOptions& opts);
int cmd_eval(const RunConfig& cfg, const std::vector<std::string>& argv);
int cmd_train(const RunConfig& cfg, const std::vector<std::string>& argv);
// bertscore_model: "" = the folder run.json recorded, "none" = off.
int cmd_score(const std::string& run_dir, int bootstrap, const std::string& format, const std::string& bertscore_model,
              const std::string& device);
int cmd_list(const ListOptions& opts);
int cmd_check(const CheckOptions& opts);
int cmd_version(const std::string& format);

}  // namespace mvb::cli
