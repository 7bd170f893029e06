#include "medvlmbench/nn/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace mvb::nn {
namespace {

CpuThreads configure_once() {
  CpuThreads out;
  out.intra_op = at::get_num_threads();
  int want = 0;
  if (const char* mvb = std::getenv("MVB_NUM_THREADS"))
    want = std::atoi(mvb);
  else if (std::getenv("OMP_NUM_THREADS"))
    return out;  // the user's setting wins
  else
    want = usable_cpus();
  if (want <= 0) return out;
  // OpenBLAS exports this symbol; other BLAS libraries do not, and then nothing is changed.
  using SetThreads = void (*)(int);
  if (auto* set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_blas(1);
    out.openblas_single = true;
  }
  at::set_num_threads(want);
  out.intra_op = at::get_num_threads();
  return out;
}

}  // namespace

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

CpuThreads configure_cpu_threads() {
  static const CpuThreads done = configure_once();
  return done;
}

}  // namespace mvb::nn
