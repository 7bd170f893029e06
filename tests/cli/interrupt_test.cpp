// Ctrl-C (SIGINT) or a Slurm time limit (SIGTERM) stops a run cleanly: exit code 130, every finished
// prediction kept as valid JSONL, metrics.json for what was done, run.json saying "interrupted".
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

void make_big_dataset(const std::string& root, int per_class) {
  for (const char* cls : {"NORMAL", "PNEUMONIA"}) {
    const std::string dir = root + "/test/" + cls;
    std::filesystem::create_directories(dir);
    for (int i = 0; i < per_class; ++i) {
      cv::Mat img(32, 32, CV_8UC1, cv::Scalar((i * 7) % 255));
      cv::imwrite(dir + "/img_" + std::to_string(i) + ".png", img);
    }
  }
}

class Interrupt : public ::testing::TestWithParam<int> {};

TEST_P(Interrupt, StopsCleanlyKeepingFinishedRows) {
  const int sig = GetParam();
  test::TempDir tmp;
  make_big_dataset(tmp / "data", 4000);
  const std::string exp = tmp / "out";
  std::vector<std::string> args = {test::exe_path(), "eval", "--task", "diagnosis", "--dataset", "ChestXray",
                                   "--split", "test", "--model", "tiny-fixture", "--model_path",
                                   "original_pretrained", "--image_path", tmp / "data", "--exp_path", exp,
                                   "--batch_size", "4", "--num_workers", "1", "--log_level", "error"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);

  const std::string dir = exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";
  const std::string pred = dir + "/predictions.jsonl";
  bool started = false;
  for (int i = 0; i < 3000 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    started = std::filesystem::exists(pred) && std::filesystem::file_size(pred) > 2000;
  }
  ASSERT_TRUE(started) << "the run never produced predictions";
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed instead of stopping cleanly";
  EXPECT_EQ(WEXITSTATUS(status), 130);

  auto rows = io::read_jsonl(pred);
  EXPECT_EQ(rows.torn_bytes, 0u);
  EXPECT_GT(rows.rows.size(), 0u);
  EXPECT_LT(rows.rows.size(), 8000u) << "the run finished before the signal; make the dataset bigger";
  auto manifest = nlohmann::json::parse(test::read_text(dir + "/run.json"));
  EXPECT_EQ(manifest["status"], "interrupted");
  EXPECT_EQ(manifest["interrupted_by_signal"], sig);
  auto metrics = nlohmann::json::parse(test::read_text(dir + "/metrics.json"));
  EXPECT_EQ(metrics["num_rows"].get<size_t>(), rows.rows.size());
}

INSTANTIATE_TEST_SUITE_P(Signals, Interrupt, ::testing::Values(SIGINT, SIGTERM));

}  // namespace
}  // namespace mvb
