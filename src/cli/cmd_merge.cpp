// merge: one run folder from the run folders of a sharded evaluation (tasks/merge.h).
#include <iostream>

#include "commands.h"
#include "medvlmbench/tasks/merge.h"
#include "medvlmbench/tasks/pipeline.h"

namespace mvb::cli {

CLI::App* add_merge_command(CLI::App& app, MergeCliOptions& o) {
  CLI::App* m = app.add_subcommand(
      "merge", "Combine the run folders of a sharded eval (--shard, Slurm array, --devices) into one scored run");
  m->add_option("run_dirs", o.run_dirs, "The shards' run folders (each holds run.json and predictions.jsonl)")
      ->required();
  m->add_option("--output", o.output,
                "Merged run folder (default: the folder an unsharded run writes, above the shard-i-of-n folders)");
  m->add_option("--image_path", o.image_path,
                "Dataset folder, re-read to check that no sample is missing (default: the one run.json records)");
  m->add_option("--device", o.device, "Device for BERTScore while scoring: cpu, cuda, cuda:N or auto");
  m->add_option("--format", o.format, "text or json")->check(CLI::IsMember({"text", "json"}));
  m->add_option("--log_level", o.log_level, "Log level");
  return m;
}

int cmd_merge(const MergeCliOptions& o) {
  MergeOptions opts;
  opts.run_dirs = o.run_dirs;
  opts.output = o.output;
  opts.image_path = o.image_path;
  opts.device = o.device;
  const MergeOutcome out = merge_runs(opts);
  if (o.format == "json") {
    nlohmann::json j = out.metrics;
    j["run_dir"] = out.run_dir;
    j["status"] = "merged";
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << format_summary(out.metrics, out.run_dir) << std::flush;
  }
  return 0;
}

}  // namespace mvb::cli
