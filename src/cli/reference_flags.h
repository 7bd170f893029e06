// The reference's flags that medvlmbench accepts without acting on them (run_eval.py's argparse and
// run_train.py's HfArgumentParser over transformers.TrainingArguments plus its own dataclass fields):
// each is accepted with any value, and a run given one logs one line saying what happens instead. The
// flags we implement are ordinary options (cli/flags.cpp); the full list of reference names, generated
// from the reference's source, is tests/cli/reference_flags.txt, and tests/cli check every one parses.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace mvb::cli {

struct ReferenceCompatFlag {
  std::string name;     // without "--"
  std::string command;  // "eval" or "train"
  std::string note;     // what medvlmbench does instead
};

// The table (one place: reference_flags.cpp).
const std::vector<ReferenceCompatFlag>& reference_compat_flags();

// Adds the table's flags for `command` to `app` under the help group "Reference compatibility
// (accepted, not used)". Each takes zero or more values, as HfArgumentParser's booleans ("--x", "--x
// True") and lists ("--report_to none wandb") do. Names `app` already has are skipped.
void add_reference_compat_flags(CLI::App& app, const std::string& command);

// After parsing: one line per compatibility flag given, "--name VALUE: accepted for compatibility; NOTE".
std::vector<std::string> reference_compat_notes(const CLI::App& app);

// HfArgumentParser accepts --per-device-train-batch-size for --per_device_train_batch_size; so does
// train: the name part of every "--a-b[=v]" argument after the subcommand gets underscores.
std::vector<std::string> underscore_flag_names(const std::vector<std::string>& args, const std::string& subcommand);

}  // namespace mvb::cli
