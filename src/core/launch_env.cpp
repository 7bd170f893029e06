#include "medvlmbench/core/launch_env.h"

#include <cstdlib>
#include <string>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {
namespace {

const char* nonempty(const std::function<const char*(const char*)>& getenv, const char* name) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

long parse_int(const char* name, const char* value, long lo, long hi) {
  const std::string s = trim(value);
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  MVB_USAGE_CHECK(!s.empty() && end != nullptr && *end == '\0' && v >= lo && v <= hi, "environment variable ", name,
                  "='", value, "' is not an integer in [", lo, ", ", hi,
                  "]; it is set by torchrun or srun for multi-process training (unset it to train in one process)");
  return v;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  const std::string s = trim(nodelist);
  const size_t stop = s.find_first_of(",[");
  if (stop == std::string::npos || s[stop] == ',') return s.substr(0, stop);
  // prefix[003-004,010]...: the prefix and the first number as written (keeping its zero padding).
  const size_t end = s.find_first_of(",-]", stop + 1);
  return s.substr(0, stop) + s.substr(stop + 1, (end == std::string::npos ? s.size() : end) - stop - 1);
}

LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& getenv) {
  LaunchEnv e;
  if (const char* t = nonempty(getenv, "MVB_DIST_TIMEOUT")) {
    e.timeout_s = static_cast<double>(parse_int("MVB_DIST_TIMEOUT", t, 1, 7 * 24 * 3600));
  }
  if (const char* ws = nonempty(getenv, "WORLD_SIZE")) {
    e.source = "torchrun";
    e.world_size = static_cast<int>(parse_int("WORLD_SIZE", ws, 1, 1 << 20));
    const char* rank = nonempty(getenv, "RANK");
    MVB_USAGE_CHECK(rank != nullptr || e.world_size == 1, "WORLD_SIZE=", ws,
                    " is set but RANK is not; launch with torchrun (which sets both) or set RANK for each process");
    if (rank != nullptr) e.rank = static_cast<int>(parse_int("RANK", rank, 0, e.world_size - 1));
    if (const char* lr = nonempty(getenv, "LOCAL_RANK"))
      e.local_rank = static_cast<int>(parse_int("LOCAL_RANK", lr, 0, 1 << 20));
  } else if (const char* nt = nonempty(getenv, "SLURM_NTASKS")) {
    e.world_size = static_cast<int>(parse_int("SLURM_NTASKS", nt, 1, 1 << 20));
    if (e.world_size > 1) {
      e.source = "slurm";
      const char* id = nonempty(getenv, "SLURM_PROCID");
      MVB_USAGE_CHECK(
          id != nullptr, "SLURM_NTASKS=", nt,
          " but SLURM_PROCID is not set: start each task with srun (see scripts/slurm/train_multinode.sbatch)");
      e.rank = static_cast<int>(parse_int("SLURM_PROCID", id, 0, e.world_size - 1));
      if (const char* lr = nonempty(getenv, "SLURM_LOCALID"))
        e.local_rank = static_cast<int>(parse_int("SLURM_LOCALID", lr, 0, 1 << 20));
      if (const char* job = nonempty(getenv, "SLURM_JOB_ID"))
        e.master_port = 20000 + static_cast<int>(parse_int("SLURM_JOB_ID", job, 0, 1L << 62) % 10000);
      const char* nodes = nonempty(getenv, "SLURM_JOB_NODELIST");
      if (nodes == nullptr) nodes = nonempty(getenv, "SLURM_NODELIST");
      if (nodes != nullptr) e.master_addr = first_slurm_host(nodes);
    } else {
      e.world_size = 1;
    }
  }
  if (e.world_size > 1) {
    if (const char* a = nonempty(getenv, "MASTER_ADDR")) e.master_addr = trim(a);
    if (const char* p = nonempty(getenv, "MASTER_PORT"))
      e.master_port = static_cast<int>(parse_int("MASTER_PORT", p, 1, 65535));
    MVB_USAGE_CHECK(e.source == "slurm" || nonempty(getenv, "MASTER_ADDR") != nullptr, "WORLD_SIZE=", e.world_size,
                    " but MASTER_ADDR is not set: give the host of rank 0 (torchrun sets it)");
  } else {
    e.rank = 0;
    e.local_rank = 0;
  }
  return e;
}

const LaunchEnv& launch_env() {
  static const LaunchEnv e = parse_launch_env([](const char* n) { return std::getenv(n); });
  return e;
}

std::string LaunchEnv::describe() const {
  if (!distributed()) return "one process";
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (local rank " +
         std::to_string(local_rank) + ", " + source + ", rendezvous " + master_addr + ":" +
         std::to_string(master_port) + ")";
}

}  // namespace mvb
