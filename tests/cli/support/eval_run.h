// What the CLI end-to-end tests of the local generative models share: running the built executable,
// and one `eval` of a fixture checkpoint on a fixture dataset with its predictions and run.json read back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace mvb::test {

// Runs the built medvlmbench with `args` (no shell).
CommandResult run_mvb(std::vector<std::string> args);

// The folder under `exp` that holds `file` (a run's output folder; the layout is the runner's business),
// or "" when there is none.
std::string find_run_dir(const std::string& exp, const std::string& file = "predictions.jsonl");

struct EvalSpec {
  std::string task;     // vqa, caption
  std::string dataset;  // a folder of tests/fixtures/datasets (SLAKE, MIMIC_CXR), split "test"
  std::string model;    // the registry name
  std::string model_path;
  std::string exp;                 // --exp_path
  std::vector<std::string> extra;  // further flags (--batch_size 3, --max_new_tokens 12, ...)
};

struct EvalRun {
  CommandResult command;
  std::string dir;                   // the run folder; "" when no predictions were written
  std::vector<nlohmann::json> rows;  // predictions.jsonl
  nlohmann::json manifest;           // run.json
};

// `eval` on the CPU without bootstrap, logging warnings only. Adds a test failure (with the command's
// output) when it exits non-zero or writes no predictions; `rows` is empty then.
EvalRun run_eval(const EvalSpec& spec);

}  // namespace mvb::test
