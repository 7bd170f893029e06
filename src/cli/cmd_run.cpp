// eval, train and score: thin wrappers over the pipelines in tasks/pipeline.h.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/tasks/pipeline.h"

namespace mvb::cli {
namespace {
void print_result(const nlohmann::json& metrics, const std::string& run_dir, const std::string& format,
                  const std::string& status) {
  if (format == "json") {
    nlohmann::json out = metrics;
    out["run_dir"] = run_dir;
    out["status"] = status;
    std::cout << out.dump(2) << std::endl;
  } else {
    std::cout << format_summary(metrics, run_dir);
    if (status == "interrupted") std::cout << "status: interrupted (finished predictions kept; rerun with --resume)\n";
    std::cout.flush();
  }
}
}  // namespace

int cmd_eval(const RunConfig& cfg, const std::vector<std::string>& argv) {
  RunOutcome out = run_eval(cfg, argv);
  spdlog::info("{} rows written ({} errors, {} resumed) in {:.1f} s", out.rows_written, out.error_rows,
               out.resumed_rows, out.seconds);
  print_result(out.metrics, out.run_dir, cfg.format, out.status);
  return out.exit_code();
}

int cmd_train(const RunConfig& cfg, const std::vector<std::string>& argv) {
  RunOutcome out = run_train(cfg, argv);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", out.seconds);
  std::cout << "training " << out.status << " in " << secs << " s; outputs: " << out.run_dir << std::endl;
  return out.exit_code();
}

int cmd_score(const std::string& run_dir, int bootstrap, const std::string& format, const std::string& bertscore_model,
              const std::string& device) {
  nlohmann::json m = score_run_dir(run_dir, bootstrap, bertscore_model, device);
  print_result(m, run_dir, format, "scored");
  return 0;
}

}  // namespace mvb::cli
