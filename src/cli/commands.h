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

struct MergeCliOptions {
  std::vector<std::string> run_dirs;
  std::string output;
  std::string image_path;
  std::string device = "auto";
  std::string format = "text";
  std::string log_level = "info";
};

std::string version_string();
CLI::App* add_merge_command(CLI::App& app, MergeCliOptions& opts);
int cmd_merge(const MergeCliOptions& opts);
// eval --devices (cmd_devices.cpp): worker processes over interleaved shards, then merge. A worker
// (MVB_DEVICES_WORKER set by its parent) runs as a plain eval.
bool is_devices_worker();
std::vector<std::string> parse_devices(const std::string& list);  // "0,1" -> cuda:0, cuda:1; UsageError
int cmd_eval_devices(const RunConfig& cfg, const std::vector<std::string>& argv);
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
