// The subcommands behind main(); each returns the process exit code.
#pragma once

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
  std::string format = "text";
};

std::string version_string();
int cmd_eval(const RunConfig& cfg, const std::vector<std::string>& argv);
int cmd_train(const RunConfig& cfg, const std::vector<std::string>& argv);
int cmd_score(const std::string& run_dir, int bootstrap, const std::string& format);
int cmd_list(const ListOptions& opts);
int cmd_check(const CheckOptions& opts);
int cmd_version(const std::string& format);

}  // namespace mvb::cli
