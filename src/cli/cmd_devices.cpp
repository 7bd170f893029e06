// eval --devices LIST: one worker process of this same executable per device, each evaluating the
// interleaved shard i/n on its device (a model replica per device), then `merge` of their run
// folders into the folder one process would have written. Worker processes rather than threads: each
// replica gets its own CUDA context, allocator and LibTorch thread pool, and one crashing worker (an
// out-of-memory abort, a driver fault) cannot take the others' finished rows with it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "commands.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/tasks/merge.h"
#include "medvlmbench/tasks/pipeline.h"
#include "medvlmbench/tasks/task.h"
#include "medvlmbench/tasks/usage.h"

extern char** environ;

namespace mvb::cli {
namespace {

constexpr const char* kWorkerEnv = "MVB_DEVICES_WORKER";

struct Worker {
  std::string device, shard, run_dir, log_path;
  pid_t pid = -1;
  int exit_code = -1;
  bool running = false;
  int64_t rows = 0;  // lines of its predictions.jsonl seen so far
};

// Lines in a file (its rows), 0 when absent.
int64_t count_lines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return 0;
  int64_t n = 0;
  char buf[1 << 16];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    n += std::count(buf, buf + f.gcount(), '\n');
    if (!f) break;
  }
  return n;
}

// The last non-empty line of a worker's log: its error message when it failed.
std::string last_line(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line))
    if (!trim(line).empty()) last = line;
  return last;
}

}  // namespace

bool is_devices_worker() {
  const char* w = std::getenv(kWorkerEnv);
  return w && *w;
}

std::vector<std::string> parse_devices(const std::string& list) {
  std::vector<std::string> out;
  for (std::string d : split(list, ',')) {
    d = trim(d);
    const bool digits = !d.empty() && d.find_first_not_of("0123456789") == std::string::npos;
    if (digits) d = "cuda:" + d;
    const bool ok =
        d == "cpu" || d == "cuda" ||
        (starts_with(d, "cuda:") && d.size() > 5 && d.find_first_not_of("0123456789", 5) == std::string::npos);
    MVB_USAGE_CHECK(ok, "invalid device '", d, "' in --devices ", list,
                    "; give a comma-separated list of CUDA indices (0,1,2,3), cuda:N or cpu entries (cpu,cpu)");
    out.push_back(d);
  }
  MVB_USAGE_CHECK(!out.empty(), "--devices is empty; give e.g. 0,1 or cpu,cpu");
  MVB_USAGE_CHECK(out.size() <= 256, "--devices lists ", out.size(), " devices; at most 256 workers");
  return out;
}

int cmd_eval_devices(const RunConfig& cfg, const std::vector<std::string>& argv) {
  const std::vector<std::string> devices = parse_devices(cfg.devices);
  std::string source;
  const std::string outer = shard_from_environment(cfg.shard, &source);
  MVB_USAGE_CHECK(outer.empty() || outer == "0/1", "--devices shards the run itself, but ", source, " asks for shard ",
                  outer, "; drop --shard (inside a Slurm array job pass --shard 0/1)");
  const int n = static_cast<int>(devices.size());

  // The names as the workers canonicalise them, so the run folders below are the ones they write
  // (an unknown name is the usual usage error, before any worker starts).
  RunConfig whole = cfg;
  whole.shard.clear();
  whole.task = task_registry().canonical(cfg.task);
  whole.dataset = dataset_registry().canonical(cfg.dataset);
  whole.model = model_registry().canonical(cfg.model);
  if (!cfg.usage.empty()) whole.usage = find_usage(cfg.usage, whole.task, "eval").usage;
  const std::string run_dir = eval_run_dir(whole);
  io::create_directories(run_dir);
  // CPU workers share this process's CPUs instead of each taking all of them.
  int cpu_workers = 0;
  for (const auto& d : devices) cpu_workers += d == "cpu";
  const bool set_threads = cpu_workers > 0 && !std::getenv("MVB_NUM_THREADS") && !std::getenv("OMP_NUM_THREADS");
  const int threads = std::max(1, nn::usable_cpus() / std::max(1, cpu_workers));

  // Samples to do, for the combined progress line (-1 when the loader cannot tell up front).
  int64_t total = -1;
  try {
    if (const DatasetEntry* e = dataset_registry().find(whole.dataset)) {
      const int64_t all =
          e->factory()->open(DatasetRequest{whole.task, cfg.split, cfg.image_path, cfg.cache_dir})->size_hint();
      if (all >= 0) {
        total = 0;
        for (int i = 0; i < n; ++i) {
          int64_t in_shard = all / n + (i < all % n ? 1 : 0);
          total += cfg.limit >= 0 ? std::min(in_shard, cfg.limit) : in_shard;
        }
      }
    }
  } catch (const std::exception&) {
    // The workers report a bad dataset folder themselves, with the usual message.
  }

  std::vector<Worker> workers(n);
  for (int i = 0; i < n; ++i) {
    Worker& w = workers[i];
    w.device = devices[i];
    w.shard = std::to_string(i) + "/" + std::to_string(n);
    RunConfig part = whole;
    part.shard = w.shard;
    w.run_dir = eval_run_dir(part);
    w.log_path = io::join_path(run_dir, "worker-" + std::to_string(i) + ".log");
    // The same command line; later flags win (TakeLast), so the worker's shard and device override.
    std::vector<std::string> args = {"/proc/self/exe"};
    args.insert(args.end(), argv.begin() + 1, argv.end());
    args.insert(args.end(), {"--shard", w.shard, "--device", w.device});
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      if (!starts_with(kv, std::string(kWorkerEnv) + "=") && !starts_with(kv, "SLURM_ARRAY_TASK_")) env.push_back(kv);
    }
    env.push_back(std::string(kWorkerEnv) + "=" + std::to_string(i));
    if (set_threads && w.device == "cpu") env.push_back("MVB_NUM_THREADS=" + std::to_string(threads));
    std::vector<char*> cenv;
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, w.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    // Its own process group: a Ctrl-C on the terminal reaches this process only, which forwards one
    // SIGTERM (a second signal would make a worker stop without finishing its batch).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    const int rc = posix_spawn(&w.pid, "/proc/self/exe", &fa, &attr, cargs.data(), cenv.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    MVB_CHECK(rc == 0, "cannot start worker ", i, " for device ", w.device, ": ", std::strerror(rc));
    w.running = true;
    spdlog::info("worker {} on {}: shard {} -> {} (log {})", i, w.device, w.shard, w.run_dir, w.log_path);
  }

  Progress progress("eval x" + std::to_string(n), total > 0 ? static_cast<size_t>(total) : 0);
  bool forwarded = false;
  int running = n;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (cancel_requested() && !forwarded) {
      // Ctrl-C / a Slurm time limit: each worker finishes its batch, keeps its rows and exits 130.
      for (auto& w : workers)
        if (w.running) ::kill(w.pid, SIGTERM);
      forwarded = true;
    }
    int64_t delta = 0;
    for (auto& w : workers) {
      if (w.running) {
        int status = 0;
        if (::waitpid(w.pid, &status, WNOHANG) == w.pid) {
          w.running = false;
          --running;
          w.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
      }
      const int64_t rows = count_lines(io::join_path(w.run_dir, kPredictionsFile));
      if (rows > w.rows) delta += rows - w.rows;
      w.rows = std::max(w.rows, rows);
    }
    if (delta > 0) progress.advance(static_cast<size_t>(delta));
  }
  progress.finish();

  bool interrupted = false;
  int worst = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    const Worker& w = workers[i];
    if (w.exit_code == 0) continue;
    if (w.exit_code == 130) {
      interrupted = true;
      continue;
    }
    spdlog::error(
        "worker {} on {} (shard {}) failed with exit code {}: {}; its finished rows are kept in {}; "
        "rerun the same command with --resume to finish it",
        i, w.device, w.shard, w.exit_code, last_line(w.log_path), w.run_dir);
    worst = std::max(worst, w.exit_code == 2 ? 2 : 1);
  }
  if (worst) {
    std::fprintf(
        stderr, "error: %d of %d workers failed (see above and %s/worker-*.log)\n",
        static_cast<int>(std::count_if(workers.begin(), workers.end(),
                                       [](const Worker& w) { return w.exit_code != 0 && w.exit_code != 130; })),
        n, run_dir.c_str());
    return worst;
  }
  if (interrupted || cancel_requested()) {
    std::cout << "status: interrupted (finished predictions kept in " << run_dir
              << "/shard-*; rerun the same command with --resume)\n";
    return 130;
  }

  MergeOptions m;
  for (const auto& w : workers) m.run_dirs.push_back(w.run_dir);
  m.output = run_dir;
  m.device = devices.front() == "cpu" ? "cpu" : devices.front();
  const MergeOutcome out = merge_runs(m);
  if (cfg.format == "json") {
    nlohmann::json j = out.metrics;
    j["run_dir"] = out.run_dir;
    j["status"] = "completed";
    j["devices"] = devices;
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << format_summary(out.metrics, out.run_dir) << std::flush;
  }
  return 0;
}

}  // namespace mvb::cli
