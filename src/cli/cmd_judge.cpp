// judge: LLM-judge scores for a finished VQA run folder (tasks/judge.h), then a re-score so that
// metrics.json carries the gpt_score meters.
#include <iostream>

#include "commands.h"
#include "medvlmbench/cli/flags.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/tasks/judge.h"
#include "medvlmbench/tasks/pipeline.h"

namespace mvb::cli {

CLI::App* add_judge_command(CLI::App& app, JudgeOptions& o) {
  CLI::App* j = app.add_subcommand(
      "judge", "Score a VQA run's open answers 0-100 with an LLM judge (or read MC letters the regex cannot)");
  j->add_option("run_dir", o.run_dir, "Run folder written by `medvlmbench eval --task vqa`")->required();
  j->add_option("--judge,--model", o.api.judge,
                "Judge model NAME[:MODEL_ID]: o3, gemini-2.5-pro, openai:ID, gemini:ID, openai-compatible[:ID]")
      ->required();
  j->add_option("--judge_api_base", o.api.judge_api_base, "The judge's base URL (default: the provider's)");
  j->add_option("--judge_api_model", o.api.judge_api_model, "The judge's model id");
  j->add_option("--mode", o.mode, "open: 0-100 scores of open answers; mc: option letters for MC answers")
      ->check(CLI::IsMember({"open", "mc"}));
  j->add_option("--scope", o.scope, "open mode: judge open questions only, or all answered questions")
      ->check(CLI::IsMember({"open", "all"}));
  j->add_flag("--force", o.force, "Re-judge rows already judged with the current rubric");
  j->add_flag("--mc_all", o.mc_all, "mc mode: also ask for rows whose letter the regex already finds");
  j->add_option("--cache_dir", o.api.cache_dir, "Response cache folder (default: the run's)");
  j->add_option("--bootstrap", o.bootstrap, "Bootstrap resamples for the re-score");
  j->add_option("--format", o.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  j->add_option("--log_level", o.api.log_level, "Log level");
  add_api_flags(*j, o.api);
  return j;
}

int cmd_judge(const JudgeOptions& o) {
  const std::string manifest_path = io::join_path(o.run_dir, kManifestFile);
  MVB_CHECK(io::exists(manifest_path), o.run_dir, " is not a run folder (no ", kManifestFile,
            "); give the folder that `medvlmbench eval` printed");
  nlohmann::json manifest = io::read_json(manifest_path);
  const nlohmann::json run_cfg = manifest.value("config", nlohmann::json::object());
  MVB_USAGE_CHECK(run_cfg.value("task", "") == "vqa", o.run_dir, " is a ", run_cfg.value("task", std::string("?")),
                  " run; the judge scores VQA runs");
  RunConfig cfg = o.api;
  // --api_base/--api_model on this command name the judge's endpoint.
  if (cfg.judge_api_base.empty()) cfg.judge_api_base = cfg.api_base;
  if (cfg.judge_api_model.empty()) cfg.judge_api_model = cfg.api_model;
  if (cfg.cache_dir.empty()) {
    cfg.cache_dir = run_cfg.value("cache_dir", std::string());
    if (cfg.cache_dir.empty()) cfg.cache_dir = run_cfg.value("exp_path", std::string("./output")) + "/.cache";
  }
  JudgeConfig jc = judge_config_from(cfg);
  jc.mode = o.mode;
  jc.scope = o.scope;
  jc.force = o.force;
  jc.mc_all = o.mc_all;
  log::add_file(io::join_path(o.run_dir, "judge.log"));
  const JudgeSummary summary = judge_predictions(io::join_path(o.run_dir, kPredictionsFile), jc);
  manifest["judge"] = summary.to_json();
  manifest["judge"]["mode"] = o.mode;
  io::write_json_atomic(manifest_path, manifest);
  nlohmann::json metrics = score_run_dir(o.run_dir, o.bootstrap);
  log::remove_file();
  if (o.format == "json") {
    nlohmann::json out = metrics;
    out["judge"] = manifest["judge"];
    out["run_dir"] = o.run_dir;
    std::cout << out.dump(2) << std::endl;
  } else {
    std::cout << "judge: " << summary.judged << " judged, " << summary.skipped << " already judged, "
              << summary.unparsed << " unreadable replies";
    if (o.mode == "open") std::cout << "; mean score " << summary.mean_score;
    std::cout << "\n" << format_summary(metrics, o.run_dir);
    std::cout.flush();
  }
  return 0;
}

}  // namespace mvb::cli
