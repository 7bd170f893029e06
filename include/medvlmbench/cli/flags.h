// Flag definitions of the eval and train subcommands (the reference's names plus ours) and the
// YAML/JSON --config loader.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/run_config.h"

namespace mvb::cli {

void add_common_flags(CLI::App& app, RunConfig& cfg);  // shared by eval and train
void add_eval_flags(CLI::App& app, RunConfig& cfg);
void add_api_flags(CLI::App& app, RunConfig& cfg);  // --api_* and --no_cache (eval and judge)
// --max_new_tokens, --temperature, --reference_compat (eval; read by generative models).
void add_generation_flags(CLI::App& app, RunConfig& cfg);
// --reference_compat alone (eval through add_generation_flags; train, for the ChestXray input of lp).
void add_reference_compat_option(CLI::App& app, RunConfig& cfg, const std::string& group);
void add_bertscore_flag(CLI::App& app, std::string& target);  // --bertscore_model (eval and score)
void add_train_flags(CLI::App& app, RunConfig& cfg);

// --config FILE: YAML (or JSON, a YAML subset) whose keys are flag names without dashes. CLI11 2.1
// only reads config files for the main app, so the file is expanded into --key=value arguments
// placed right after the subcommand (expand_config_args, called before parsing); flags given on the
// command line come later and win. An unknown key is a UsageError naming the closest flag.
void add_config_flag(CLI::App& app, RunConfig& cfg);
std::vector<std::string> config_file_args(const CLI::App& subcommand, const std::string& path);
std::vector<std::string> expand_config_args(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace mvb::cli
