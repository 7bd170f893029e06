// Data parallel training (train/distributed.h) through the executable on the tiny Qwen2-VL fixture:
//  - two processes started by scripts/slurm/train_multinode.sbatch (a stand-in srun starts both
//    tasks with SLURM_PROCID/SLURM_NTASKS, a stand-in scontrol names the node) meet over Gloo on
//    localhost and reach the adapter of one process with the doubled per-device batch (1e-5), with
//    one metrics file (only rank 0 writes);
//  - a rendezvous that cannot happen (no rank 0 at MASTER_ADDR:MASTER_PORT, or a rank 0 whose peer
//    never comes) fails with one clear line within MVB_DIST_TIMEOUT.
// Every child runs in its own process group under a hard deadline and is killed with it.
#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/train/distributed.h"
#include "support/test_support.h"

extern char** environ;

namespace mvb {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Child {
  int exit_code = -1;  // -1: killed at the deadline
  double seconds = 0;
  std::string log;  // stdout + stderr
};

// Runs argv in a new process group with `env` over the inherited environment (launcher variables
// removed, so a test run inside a Slurm job or torchrun stays one process), output to `log_path`;
// the whole group is SIGKILLed after `deadline_s`.
Child run_bounded(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const std::string& log_path, double deadline_s) {
  static const char* kLauncherVars[] = {"WORLD_SIZE",   "RANK",           "LOCAL_RANK",         "MASTER_ADDR",
                                        "MASTER_PORT",  "SLURM_NTASKS",   "SLURM_PROCID",       "SLURM_LOCALID",
                                        "SLURM_JOB_ID", "SLURM_NODELIST", "SLURM_JOB_NODELIST", "MVB_DIST_TIMEOUT"};
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    const std::string s(*e);
    const std::string key = s.substr(0, s.find('='));
    bool drop = false;
    for (const char* v : kLauncherVars) drop = drop || key == v;
    for (const auto& o : env) drop = drop || o.substr(0, o.find('=')) == key;
    if (!drop) env_store.push_back(s);
  }
  env_store.insert(env_store.end(), env.begin(), env.end());
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    FILE* f = std::fopen(log_path.c_str(), "w");
    if (f != nullptr) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so the kill below cannot race the child's own call
  Child c;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == pid) {
      c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (c.seconds > deadline_s) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid, SIGKILL);  // whatever the group left behind (a rank whose peer died)
  c.log = test::read_text(log_path);
  return c;
}

// A port nothing listens on (bound then released; the kernel does not hand it out again at once).
int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

std::vector<std::string> train_args(const std::string& out, int per_device) {
  return {"--task",
          "vqa",
          "--dataset",
          "SLAKE",
          "--image_path",
          test::fixture_path("datasets/SLAKE"),
          "--model",
          "Qwen2-VL",
          "--model_path",
          test::fixture_path("models/qwen2_vl"),
          "--output_dir",
          out,
          "--peft",
          "lora",
          "--lora_r",
          "4",
          "--tune_modules",
          "L",
          "--max_steps",
          "3",  // one epoch of 2 global batches, then a step into the reshuffled second
          "--learning_rate",
          "1e-3",
          "--lr_scheduler_type",
          "constant",
          "--save_steps",
          "0",
          "--per_device_train_batch_size",
          std::to_string(per_device)};
}

std::vector<json> jsonl(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(test::read_text(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

const char* kRun = "/vqa/SLAKE/Qwen2-VL/train_lora_L_seed0";

TEST(CliDistributedTrain, TwoGlooProcessesFromSrunEqualOneProcessWithTheDoubledBatch) {
  ASSERT_TRUE(fs::exists(test::exe_path())) << "build medvlmbench first";
  std::string why;
  if (!train::distributed_backend_available(c10::Device(c10::kCPU), &why)) GTEST_SKIP() << why;
  test::TempDir tmp;
  // One process, batch 2.
  std::vector<std::string> one = {test::exe_path(), "train", "--device", "cpu"};
  for (const auto& a : train_args(tmp / "one", 2)) one.push_back(a);
  const Child a = run_bounded(one, {}, tmp / "one.log", 120);
  ASSERT_EQ(a.exit_code, 0) << a.log;
  // Two processes, batch 1 each, through the Slurm script.
  std::vector<std::string> two = {"/bin/bash", test::source_dir() + "/scripts/slurm/train_multinode.sbatch"};
  for (const auto& x : train_args(tmp / "two", 1)) two.push_back(x);
  const std::string fake = test::source_dir() + "/tests/cli/fake_slurm";
  const Child b =
      run_bounded(two,
                  {"PATH=" + fake + ":" + std::string(std::getenv("PATH")), "MVB=" + test::exe_path(), "MVB_DEVICE=cpu",
                   "SLURM_NTASKS=2", "SLURM_JOB_ID=4242", "SLURM_JOB_NODELIST=127.0.0.1", "SLURM_CPUS_PER_TASK=1",
                   "MASTER_PORT=" + std::to_string(free_port()), "MVB_DIST_TIMEOUT=60"},
                  tmp / "two.log", 120);
  ASSERT_EQ(b.exit_code, 0) << b.log;
  std::cout << "[ measured ] 1 process: " << a.seconds << " s, 2 processes: " << b.seconds << " s\n";
  EXPECT_NE(b.log.find("data parallel: rank 0 of 2"), std::string::npos) << b.log;
  EXPECT_NE(b.log.find("gloo"), std::string::npos) << b.log;

  const std::string run_a = tmp / "one" + std::string(kRun), run_b = tmp / "two" + std::string(kRun);
  io::StateDict wa = io::open_safetensors(run_a + "/adapter_model.safetensors");
  io::StateDict wb = io::open_safetensors(run_b + "/adapter_model.safetensors");
  ASSERT_EQ(wa.names(), wb.names());
  double worst = 0, moved = 0;
  for (const auto& n : wa.names()) {
    worst = std::max(worst, (wa.get(n) - wb.get(n)).abs().max().item<double>());
    moved = std::max(moved, wa.get(n).abs().max().item<double>());
  }
  std::cout << "[ measured ] adapter max |1 process - 2 processes| = " << worst << "\n";
  EXPECT_LT(worst, 1e-5);
  EXPECT_GT(moved, 0.0);
  // Rank 0 alone wrote the metrics: each step once, with the loss over both ranks' samples.
  const auto ra = jsonl(run_a + "/train_metrics.jsonl"), rb = jsonl(run_b + "/train_metrics.jsonl");
  ASSERT_EQ(ra.size(), 3u);
  ASSERT_EQ(rb.size(), 3u);
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_NEAR(ra[i]["loss"].get<double>(), rb[i]["loss"].get<double>(), 1e-5) << i;
    EXPECT_EQ(ra[i]["tokens"], rb[i]["tokens"]) << i;
  }
  const json manifest = json::parse(test::read_text(run_b + "/run.json"));
  EXPECT_EQ(manifest["data_parallel"]["world_size"], 2);
  EXPECT_EQ(manifest["data_parallel"]["launcher"], "slurm");
}

TEST(CliDistributedTrain, UnreachableRendezvousFailsWithOneLineWithinTheTimeout) {
  ASSERT_TRUE(fs::exists(test::exe_path())) << "build medvlmbench first";
  std::string why;
  if (!train::distributed_backend_available(c10::Device(c10::kCPU), &why)) GTEST_SKIP() << why;
  test::TempDir tmp;
  const int timeout_s = 2;
  const std::string port = std::to_string(free_port());
  std::vector<std::string> cmd = {test::exe_path(), "train", "--device", "cpu"};
  for (const auto& a : train_args(tmp / "out", 1)) cmd.push_back(a);
  // Rank 1 with nobody serving MASTER_ADDR:MASTER_PORT; rank 0 whose only peer never comes.
  for (const char* rank : {"1", "0"}) {
    const Child c = run_bounded(cmd,
                                {"WORLD_SIZE=2", std::string("RANK=") + rank, "MASTER_ADDR=127.0.0.1",
                                 "MASTER_PORT=" + port, "MVB_DIST_TIMEOUT=" + std::to_string(timeout_s)},
                                tmp / (std::string("rank") + rank + ".log"), 90);
    std::cout << "[ measured ] rank " << rank << " alone gave up after " << c.seconds << " s\n";
    ASSERT_NE(c.exit_code, -1) << "still waiting after 90 s:\n" << c.log;
    EXPECT_EQ(c.exit_code, 1) << c.log;
    EXPECT_NE(c.log.find("distributed rendezvous failed for rank " + std::string(rank) + " of 2"), std::string::npos)
        << c.log;
    EXPECT_NE(c.log.find("127.0.0.1:" + port), std::string::npos) << c.log;
    // The rendezvous wait is bounded by MVB_DIST_TIMEOUT (plus loading the tiny model).
    EXPECT_LT(c.seconds, timeout_s + 30) << c.log;
    // One line: our error does not drag LibTorch's C++ stack trace along (LibTorch 2.x logs its own
    // retries, with one, before it).
    const size_t at = c.log.find("error: distributed rendezvous failed");
    ASSERT_NE(at, std::string::npos) << c.log;
    const std::string line = c.log.substr(at, c.log.find('\n', at) - at);
    EXPECT_EQ(line.find("Exception raised from"), std::string::npos) << line;
    EXPECT_NE(line.find("check that rank 0 is running"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace mvb
