// Issue 18, defects 1, 2 and 10 through the executable:
// - a rerun that is refused (bad option, broken checkpoint, empty split) leaves the previous run's
//   files byte for byte; a fresh rerun sets them aside as *.previous when its first row is ready, so a
//   kill during it never leaves another run's metrics.json/results.csv beside its rows;
// - samples whose ids would collide once written (non-UTF-8 file names) are all scored, and --resume
//   redoes none of them;
// - an empty split exits non-zero naming it; two SIGTERMs exit 130 like one; *.tmp.<pid> files of
//   dead writers are removed, a live writer's are not.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <thread>

#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

namespace fs = std::filesystem;

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

// The README demo (CLIP clip-zs on the demo ChestXray) with the checkpoint at `ckpt`.
std::vector<std::string> clip_args(const std::string& data, const std::string& ckpt, const std::string& exp) {
  return {"eval", "--task",      "diagnosis", "--usage",      "clip-zs",     "--dataset",    "ChestXray", "--split",
          "test", "--model",     "CLIP",      "--model_path", ckpt,          "--image_path", data,        "--exp_path",
          exp,    "--bootstrap", "0",         "--save_pred",  "--log_level", "warn"};
}

std::map<std::string, std::string> outputs_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const char* f : {"predictions.jsonl", "metrics.json", "results.csv", "predictions.json", "run.json"})
    if (fs::exists(dir + "/" + f)) out[f] = test::read_text(dir + "/" + f);
  return out;
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(RerunSafety, RefusedRerunsLeaveThePreviousRunUntouched) {
  test::TempDir tmp;
  const std::string data = tmp / "ChestXray";
  fs::copy(test::fixture_path("demo/ChestXray"), data, fs::copy_options::recursive);
  fs::create_directories(tmp / "ckpt");
  const std::string ckpt = tmp / "ckpt/tiny-clip";
  fs::copy(test::fixture_path("models/tiny-clip"), ckpt, fs::copy_options::recursive);
  const std::string exp = tmp / "out";
  const std::string dir = exp + "/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs";

  auto first = mvb_cmd(clip_args(data, ckpt, exp));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto before = outputs_of(dir);
  ASSERT_EQ(before.size(), 5u);
  ASSERT_GT(io::read_jsonl(dir + "/predictions.jsonl").rows.size(), 0u);

  // A bad option found by the runner (exit 2), a broken checkpoint found by the model (exit 1), an empty
  // split (exit 1): each is refused before any file of the run folder changes.
  auto bad_option = mvb_cmd(with(clip_args(data, ckpt, exp), {"--prompt_template", "no placeholder"}));
  EXPECT_EQ(bad_option.exit_code, 2) << bad_option.err;
  EXPECT_EQ(outputs_of(dir), before) << "a refused rerun changed the previous run's files";

  const std::string config = test::read_text(ckpt + "/config.json");
  test::write_text(ckpt + "/config.json", "{\"architectures\": [\"CLIPModel\"]");
  auto broken = mvb_cmd(clip_args(data, ckpt, exp));
  EXPECT_EQ(broken.exit_code, 1) << broken.err;
  EXPECT_EQ(outputs_of(dir), before) << "a broken checkpoint changed the previous run's files";
  test::write_text(ckpt + "/config.json", config);

  const std::string empty = tmp / "empty/ChestXray";
  fs::create_directories(empty + "/test/NORMAL");
  fs::create_directories(empty + "/test/PNEUMONIA");
  auto no_samples = mvb_cmd(clip_args(empty, ckpt, exp));
  EXPECT_EQ(no_samples.exit_code, 1) << no_samples.err;
  EXPECT_NE(no_samples.err.find("ChestXray split 'test'"), std::string::npos) << no_samples.err;
  EXPECT_NE(no_samples.err.find("has no samples"), std::string::npos) << no_samples.err;
  EXPECT_EQ(outputs_of(dir), before);

  // A fresh rerun that runs: the previous files are set aside, not destroyed.
  auto again = mvb_cmd(clip_args(data, ckpt, exp));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const auto& [name, text] : before) {
    ASSERT_TRUE(fs::exists(dir + "/" + name + ".previous")) << name;
    EXPECT_EQ(test::read_text(dir + "/" + name + ".previous"), text) << name;
  }
  EXPECT_EQ(outputs_of(dir).size(), 5u);
}

void make_big_dataset(const std::string& root, int per_class) {
  for (const char* cls : {"NORMAL", "PNEUMONIA"}) {
    const std::string dir = root + "/test/" + cls;
    fs::create_directories(dir);
    for (int i = 0; i < per_class; ++i)
      cv::imwrite(dir + "/img_" + std::to_string(i) + ".png", cv::Mat(32, 32, CV_8UC1, cv::Scalar((i * 7) % 255)));
  }
}

std::vector<std::string> fixture_args(const std::string& data, const std::string& exp) {
  return {"eval",
          "--task",
          "diagnosis",
          "--dataset",
          "ChestXray",
          "--split",
          "test",
          "--model",
          "tiny-fixture",
          "--model_path",
          "original_pretrained",
          "--image_path",
          data,
          "--exp_path",
          exp,
          "--batch_size",
          "4",
          "--num_workers",
          "1",
          "--bootstrap",
          "0",
          "--log_level",
          "error"};
}

pid_t spawn(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Waits (at most 30 s) until `path` holds more than `bytes` bytes.
bool wait_for_bytes(const std::string& path, uintmax_t bytes) {
  for (int i = 0; i < 6000; ++i) {
    std::error_code ec;
    if (fs::exists(path, ec) && fs::file_size(path, ec) > bytes) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(RerunSafety, KillDuringFreshRerunNeverLeavesAnotherRunsMetricsBesideNewRows) {
  test::TempDir tmp;
  make_big_dataset(tmp / "data", 3000);
  const std::string exp = tmp / "out";
  const std::string dir = exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";
  auto first = mvb_cmd(with(fixture_args(tmp / "data", exp), {"--limit", "6"}));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(fs::exists(dir + "/metrics.json") && fs::exists(dir + "/results.csv"));

  const pid_t pid = spawn(fixture_args(tmp / "data", exp));
  // The fresh run's own rows: more than the 6 of the first run.
  const bool started =
      wait_for_bytes(dir + "/predictions.jsonl.previous", 0) && wait_for_bytes(dir + "/predictions.jsonl", 2000);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(started) << "the rerun never produced rows";
  EXPECT_FALSE(fs::exists(dir + "/metrics.json")) << "the previous run's metrics beside the new rows";
  EXPECT_FALSE(fs::exists(dir + "/results.csv")) << "the previous run's results beside the new rows";
  EXPECT_EQ(io::read_jsonl(dir + "/predictions.jsonl.previous").rows.size(), 6u);
  EXPECT_TRUE(fs::exists(dir + "/metrics.json.previous"));
  const auto manifest = nlohmann::json::parse(test::read_text(dir + "/run.json"));
  EXPECT_EQ(manifest["status"], "running");
  EXPECT_FALSE(manifest["config"].contains("limit") && manifest["config"]["limit"] == 6) << "run.json of the old run";
}

TEST(RerunSafety, TwoSigtermsExit130LikeOne) {
  test::TempDir tmp;
  make_big_dataset(tmp / "data", 3000);
  const std::string exp = tmp / "out";
  const std::string pred = exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained/predictions.jsonl";
  auto args = fixture_args(tmp / "data", exp);
  const std::string err = tmp / "stderr.txt";
  args.insert(args.begin(), test::exe_path());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  const bool started = wait_for_bytes(pred, 2000);
  // SIGTERM every half millisecond until it exits: the first starts the clean stop, a later one lands
  // while it is still stopping (separate deliveries, not one coalesced pending signal).
  int status = 0;
  for (int i = 0; i < 4000; ++i) {
    ::kill(pid, SIGTERM);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
  }
  ASSERT_TRUE(started);
  ASSERT_NE(test::read_text(err).find("second interrupt"), std::string::npos)
      << "the run stopped before a second signal arrived: " << test::read_text(err);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of exiting";
  EXPECT_EQ(WEXITSTATUS(status), 130);
}

TEST(RerunSafety, NonUtf8FileNamesAreAllScoredAndResumeRedoesNone) {
  test::TempDir tmp;
  const std::string data = tmp / "ChestXray";
  fs::copy(test::fixture_path("demo/ChestXray"), data, fs::copy_options::recursive);
  const std::string normal = data + "/test/NORMAL/";
  fs::copy_file(normal + "normal_test_00.png", normal + "scan_\xff.png");
  fs::copy_file(normal + "normal_test_01.png", normal + "scan_\xfe.png");
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(data + "/test")) n += e.is_regular_file();
  const std::string exp = tmp / "out";
  const std::string dir = exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";

  auto r = mvb_cmd(fixture_args(data, exp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = io::read_jsonl(dir + "/predictions.jsonl").rows;
  std::set<std::string> ids;
  for (const auto& row : rows) ids.insert(row["id"].get<std::string>());
  EXPECT_EQ(rows.size(), n);
  EXPECT_EQ(ids.size(), n) << "two rows share an id";
  const auto metrics = nlohmann::json::parse(test::read_text(dir + "/metrics.json"));
  EXPECT_EQ(metrics["num_scored"].get<size_t>(), n) << "a row replaced another";

  auto resumed = mvb_cmd(with(fixture_args(data, exp), {"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto manifest = nlohmann::json::parse(test::read_text(dir + "/run.json"));
  EXPECT_EQ(manifest["samples"]["resumed"].get<size_t>(), n);
  EXPECT_EQ(manifest["samples"]["written"].get<size_t>(), 0u) << "--resume redid samples";
}

TEST(RerunSafety, StaleTempFilesOfDeadWritersAreRemoved) {
  test::TempDir tmp;
  const std::string exp = tmp / "out";
  const std::string dir = exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";
  fs::create_directories(dir);
  // A pid that has exited and been reaped: a writer killed between write and rename.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = dir + "/metrics.json.tmp." + std::to_string(dead);
  const std::string live = dir + "/run.json.tmp." + std::to_string(::getpid());  // this test runs: kept
  const std::string other = dir + "/notes.tmp.txt";                              // not ours: kept
  for (const auto& p : {stale, live, other}) test::write_text(p, "partial");
  auto r = mvb_cmd(fixture_args(test::fixture_path("demo/ChestXray"), exp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(stale)) << "a dead writer's temp file was left";
  EXPECT_TRUE(fs::exists(live)) << "a running process's temp file was removed";
  EXPECT_TRUE(fs::exists(other));
}

}  // namespace
}  // namespace mvb
