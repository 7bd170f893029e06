// Which process of a multi-process (data parallel) training job this is, from the variables its
// launcher sets: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or Slurm's srun
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR as the job script exports it, else the first
// host of SLURM_JOB_NODELIST; MASTER_PORT else 20000 + the job id mod 10000, so two jobs sharing a
// node do not collide). torchrun's variables win when both are set. Neither set (or one task): a
// single process. It lives in core because the run setup (tasks/pipeline.cpp) also needs the rank:
// only rank 0 writes the run folder. The process group itself: train/distributed.h.
#pragma once

#include <functional>
#include <string>

namespace mvb {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source;      // "torchrun", "slurm", or "" (one process)
  double timeout_s = 300;  // MVB_DIST_TIMEOUT: rendezvous bound (collectives wait at least 1800 s)
  bool distributed() const { return world_size > 1; }
  bool writes() const { return rank == 0; }  // only rank 0 writes the run folder
  std::string describe() const;              // "rank 1 of 4 (local 1, torchrun, master host:port)"
};

// The variables of this process, read once (an mvb::UsageError naming the variable when one is malformed).
const LaunchEnv& launch_env();
// The same from any lookup (tests).
LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& getenv);
// The first host of a Slurm node list: "gpu[003-004,010],cpu1" -> "gpu003".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace mvb
