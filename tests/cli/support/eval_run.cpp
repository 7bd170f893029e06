#include "cli/support/eval_run.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "medvlmbench/io/jsonl.h"

namespace mvb::test {

CommandResult run_mvb(std::vector<std::string> args) {
  args.insert(args.begin(), exe_path());
  return run_command(args);
}

std::string find_run_dir(const std::string& exp, const std::string& file) {
  if (!std::filesystem::is_directory(exp)) return "";
  for (const auto& e : std::filesystem::recursive_directory_iterator(exp))
    if (e.path().filename() == file) return e.path().parent_path().string();
  return "";
}

EvalRun run_eval(const EvalSpec& spec) {
  std::vector<std::string> args = {"eval",
                                   "--task",
                                   spec.task,
                                   "--dataset",
                                   spec.dataset,
                                   "--split",
                                   "test",
                                   "--image_path",
                                   fixture_path("datasets/" + spec.dataset),
                                   "--model",
                                   spec.model,
                                   "--model_path",
                                   spec.model_path,
                                   "--exp_path",
                                   spec.exp,
                                   "--bootstrap",
                                   "0",
                                   "--log_level",
                                   "warn",
                                   "--device",
                                   "cpu"};
  args.insert(args.end(), spec.extra.begin(), spec.extra.end());
  EvalRun out;
  out.command = run_mvb(args);
  EXPECT_EQ(out.command.exit_code, 0) << out.command.out << out.command.err;
  out.dir = find_run_dir(spec.exp);
  if (out.dir.empty()) {
    ADD_FAILURE() << "no predictions under " << spec.exp << "\n" << out.command.out << out.command.err;
    return out;
  }
  out.rows = io::read_jsonl(out.dir + "/predictions.jsonl").rows;
  out.manifest = nlohmann::json::parse(read_text(out.dir + "/run.json"));
  return out;
}

}  // namespace mvb::test
