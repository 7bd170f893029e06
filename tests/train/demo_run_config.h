// The run configuration the training tests share: a diagnosis usage with the tiny CLIP fixture on the
// bundled ChestXray demo folder, on CPU, quiet, written under `out`.
#pragma once

#include <string>

#include "medvlmbench/core/run_config.h"
#include "support/test_support.h"

namespace mvb::test {

inline RunConfig demo_run_config(const std::string& command, const std::string& usage, const std::string& out) {
  RunConfig c;
  c.command = command;
  c.task = "diagnosis";
  c.dataset = "ChestXray";
  c.split = command == "train" ? "train" : "test";
  c.image_path = fixture_path("demo/ChestXray");
  c.model = "CLIP";
  c.model_path = fixture_path("models/tiny-clip");
  c.usage = usage;
  c.exp_path = out;
  c.output_dir = out;
  c.device = "cpu";
  c.bootstrap = 0;
  c.num_workers = 1;
  c.log_level = "warn";
  return c;
}

}  // namespace mvb::test
