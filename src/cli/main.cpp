// medvlmbench: command-line entry point. Subcommands: eval, train, score, merge, judge, report, compare,
// list, check, version, completion. Every subcommand's --help ends with an example (its footer).
// Exit codes: 0 success, 1 runtime error (missing/corrupt files ...), 2 usage error (bad flags,
// unknown names, bad config), 130 interrupted (finished predictions are kept).
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "commands.h"
#include "medvlmbench/cli/flags.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/nn/openblas_kernels.h"
#include "reference_flags.h"

namespace {

// CLI11 reports unknown flags without hints; add the closest valid flag.
std::string explain_parse_error(const CLI::ParseError& e, const CLI::App& app) {
  std::string msg = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const CLI::App* sub = &app;
    for (const CLI::App* s : app.get_subcommands()) sub = s;
    std::vector<std::string> names;
    for (const CLI::Option* o : sub->get_options())
      for (const auto& n : o->get_lnames()) names.push_back("--" + n);
    for (const auto& extra : sub->remaining()) {
      const std::string flag = extra.substr(0, extra.find('='));
      if (!mvb::starts_with(flag, "--")) continue;
      const std::string best = mvb::closest_match(flag, names);
      if (!best.empty()) msg += " (did you mean " + best + "?)";
      break;
    }
  }
  return msg;
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else runs (nn/openblas_kernels.h); only for the subcommands that compute.
  if (argc > 1 &&
      (std::string(argv[1]) == "eval" || std::string(argv[1]) == "train" || std::string(argv[1]) == "score"))
    mvb::nn::reexec_with_faster_openblas_kernels(argv);
  CLI::App app{"medvlmbench: evaluate and fine-tune medical vision-language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("medvlmbench ") + mvb::cli::version_string());

  mvb::RunConfig cfg;
  mvb::cli::ListOptions list_opts;
  mvb::cli::CheckOptions check_opts;
  std::string version_format = "text", score_dir;
  int score_bootstrap = 1000;

  CLI::App* eval = app.add_subcommand("eval", "Evaluate a model on a dataset (writes predictions, metrics, manifest)");
  mvb::cli::add_eval_flags(*eval, cfg);
  mvb::cli::add_config_flag(*eval, cfg);

  CLI::App* train = app.add_subcommand("train", "Fine-tune a model (linear probe, LoRA, full)");
  mvb::cli::add_train_flags(*train, cfg);
  mvb::cli::add_config_flag(*train, cfg);

  CLI::App* score = app.add_subcommand("score", "Re-score a finished run folder from its predictions.jsonl");
  score->add_option("run_dir", score_dir, "Run folder (holds run.json and predictions.jsonl)")->required();
  score->add_option("--bootstrap", score_bootstrap, "Bootstrap resamples for 95% confidence intervals");
  score->add_option("--format", cfg.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  score->add_option("--log_level", cfg.log_level, "Log level");
  mvb::cli::add_bertscore_flag(*score, cfg.bertscore_model);
  score->add_option("--device", cfg.device, "Device for BERTScore: cpu, cuda, cuda:N or auto");

  CLI::App* list = app.add_subcommand("list", "List models, datasets, tasks, usages and agents");
  list->add_option("what", list_opts.what, "models, datasets, tasks, usages, agents or all")
      ->check(CLI::IsMember({"all", "models", "datasets", "tasks", "usages", "agents"}));
  list->add_option("--format", list_opts.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  CLI::App* check = app.add_subcommand("check", "Validate a dataset folder or a model folder");
  check->add_option("--dataset", check_opts.dataset, "Dataset to validate (with --image_path)");
  check->add_option("--image_path", check_opts.image_path, "Dataset folder");
  check->add_option("--task", check_opts.task, "Task (default: the dataset's first task)");
  check->add_option("--model_path", check_opts.model_path,
                    "Checkpoint to inspect: a folder, a hub id (org/name) or original_pretrained (with --model)");
  check->add_option("--model", check_opts.model, "Model whose default checkpoint original_pretrained means");
  check->add_option("--cache_dir", check_opts.cache_dir, "Hugging Face cache folder to search first");
  check->add_option("--format", check_opts.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  check->add_option("--dtype", check_opts.dtype, "Precision the model is built in on the CPU: auto (fp32) or bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}));

  mvb::cli::MergeCliOptions merge_opts;
  CLI::App* merge = mvb::cli::add_merge_command(app, merge_opts);

  mvb::cli::JudgeOptions judge_opts;
  CLI::App* judge = mvb::cli::add_judge_command(app, judge_opts);

  CLI::App* version = app.add_subcommand("version", "Print versions (project, LibTorch, CUDA)");
  version->add_option("--format", version_format, "text or json")->check(CLI::IsMember({"text", "json"}));

  mvb::cli::ReportCommandOptions report_opts;
  CLI::App* report = mvb::cli::add_report_command(app, report_opts);
  mvb::cli::CompareCommandOptions compare_opts;
  CLI::App* compare = mvb::cli::add_compare_command(app, compare_opts);
  std::string completion_shell;
  CLI::App* completion = mvb::cli::add_completion_command(app, completion_shell);

  // Each --help ends with an example (report, compare and completion set theirs where defined).
  eval->footer(
      "Example:\n  medvlmbench eval --task diagnosis --usage clip-zs --dataset PAPILA --split test "
      "--image_path ./datasets --model CLIP --model_path original_pretrained --exp_path ./log\n"
      "  medvlmbench eval --config configs/paper/readme/clip-zs_papila.yaml --image_path ./datasets");
  train->footer(
      "Example:\n  medvlmbench train --task diagnosis --usage lp --dataset HAM10000 --image_path ./datasets "
      "--output_dir ./log --model CLIP --model_path original_pretrained --num_train_epochs 50 "
      "--learning_rate 5e-5");
  score->footer(
      "Example:\n  medvlmbench score ./log/diagnosis/PAPILA/CLIP/eval_seed0/original_pretrained/clip-zs "
      "--bootstrap 2000");
  judge->footer(
      "Example:\n  OPENAI_API_KEY=... medvlmbench judge ./log/vqa/SLAKE/LLaVA-1.5/eval_seed0/llava-v1.5-7b "
      "--judge o3");
  list->footer("Example:\n  medvlmbench list models --format json");
  check->footer(
      "Example:\n  medvlmbench check --dataset SLAKE --image_path ./datasets/SLAKE\n"
      "  medvlmbench check --model CLIP --model_path original_pretrained");
  version->footer("Example:\n  medvlmbench version --format json");
  merge->footer(
      "Example:\n  medvlmbench merge ./log/vqa/SLAKE/LLaVA-1.5/eval_seed0/llava-v1.5-7b/shard-*-of-4\n"
      "  (writes the merged run to ./log/vqa/SLAKE/LLaVA-1.5/eval_seed0/llava-v1.5-7b; docs/scale-out.md)");

  std::vector<std::string> args(argv, argv + argc);
  try {
    // train, as HfArgumentParser, also takes --per-device-train-batch-size for --per_device_train_batch_size.
    std::vector<std::string> expanded =
        mvb::cli::expand_config_args(app, mvb::cli::underscore_flag_names(args, train->get_name()));
    // CLI11 parses a reversed vector of the arguments after the program name.
    std::vector<std::string> rev(expanded.rbegin(), expanded.rend() - 1);
    app.parse(rev);
  } catch (const mvb::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\nRun 'medvlmbench %s--help' for the flags.\n", explain_parse_error(e, app).c_str(),
                 app.get_subcommands().empty() ? "" : (app.get_subcommands().front()->get_name() + " ").c_str());
    return 2;
  }

  try {
    mvb::log::init(cfg.log_level);
    // The reference's flags given but not used: the run logs one line for each (run.json lists them).
    if (eval->parsed()) cfg.reference_compat_notes = mvb::cli::reference_compat_notes(*eval);
    if (train->parsed()) cfg.reference_compat_notes = mvb::cli::reference_compat_notes(*train);
    // run_train.py trains on the train split (it forces args.split = "train"); eval's default is test.
    if (train->parsed() && train->count("--split") == 0) cfg.split = "train";
    if (eval->parsed()) {
      cfg.command = "eval";
      mvb::install_signal_handlers();
      if (!cfg.devices.empty() && !mvb::cli::is_devices_worker()) return mvb::cli::cmd_eval_devices(cfg, args);
      return mvb::cli::cmd_eval(cfg, args);
    }
    if (train->parsed()) {
      cfg.command = "train";
      mvb::install_signal_handlers();
      return mvb::cli::cmd_train(cfg, args);
    }
    if (judge->parsed()) {
      mvb::log::init(judge_opts.api.log_level);
      mvb::install_signal_handlers();
      return mvb::cli::cmd_judge(judge_opts);
    }
    if (score->parsed())
      return mvb::cli::cmd_score(score_dir, score_bootstrap, cfg.format, cfg.bertscore_model, cfg.device);
    if (merge->parsed()) {
      mvb::log::init(merge_opts.log_level);
      return mvb::cli::cmd_merge(merge_opts);
    }
    if (list->parsed()) return mvb::cli::cmd_list(list_opts);
    if (check->parsed()) return mvb::cli::cmd_check(check_opts);
    if (version->parsed()) return mvb::cli::cmd_version(version_format);
    if (report->parsed()) return mvb::cli::cmd_report(report_opts);
    if (compare->parsed()) return mvb::cli::cmd_compare(compare_opts);
    if (completion->parsed()) {
      std::cout << mvb::cli::completion_script(app, completion_shell);
      return 0;
    }
  } catch (const mvb::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const mvb::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
