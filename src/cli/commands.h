// The subcommands behind main(); each returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"
#include "medvlmbench/report/report.h"

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

struct MergeCliOptions {
  std::vector<std::string> run_dirs;
  std::string output;
  std::string image_path;
  std::string device = "auto";
  std::string format = "text";
  std::string log_level = "info";
};

CLI::App* add_merge_command(CLI::App& app, MergeCliOptions& opts);
int cmd_merge(const MergeCliOptions& opts);
// eval --devices (cmd_devices.cpp): worker processes over interleaved shards, then merge. A worker
// (MVB_DEVICES_WORKER set by its parent) runs as a plain eval.
bool is_devices_worker();
std::vector<std::string> parse_devices(const std::string& list);  // "0,1" -> cuda:0, cuda:1; UsageError
int cmd_eval_devices(const RunConfig& cfg, const std::vector<std::string>& argv);

struct ReportCommandOptions {
  std::string exp_path;
  report::ReportOptions report;
  std::string format = "text";
};

struct CompareCommandOptions {
  std::string run_a, run_b;
  std::vector<std::string> metrics;
  int resamples = 1000;
  int64_t seed = 0;
  std::string format = "text";
};

std::string version_string();
CLI::App* add_report_command(CLI::App& app, ReportCommandOptions& opts);
int cmd_report(const ReportCommandOptions& opts);
CLI::App* add_compare_command(CLI::App& app, CompareCommandOptions& opts);
int cmd_compare(const CompareCommandOptions& opts);
CLI::App* add_completion_command(CLI::App& app, std::string& shell);
// The completion script for `shell` (bash or zsh), generated from every subcommand and flag of `app`.
std::string completion_script(const CLI::App& app, const std::string& shell);
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
