#include "medvlmbench/nn/cpu_threads.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace mvb::nn {
namespace {

using SetThreads = void (*)(int);
using GetThreads = int (*)();

// OpenBLAS exports these symbols; other BLAS libraries do not, and then they are null.
SetThreads openblas_set() { return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")); }

// The thread count asked for: MVB_NUM_THREADS, else the usable CPUs; 0 when OMP_NUM_THREADS (without
// MVB_NUM_THREADS) says the user set the threads.
int wanted_threads() {
  if (const char* mvb = std::getenv("MVB_NUM_THREADS")) return std::max(0, std::atoi(mvb));
  if (std::getenv("OMP_NUM_THREADS")) return 0;  // the user's setting wins
  return usable_cpus();
}

CpuThreads configure_once(bool training) {
  CpuThreads out;
  const int want = wanted_threads();
  if (want > 0) {
    if (SetThreads set_blas = openblas_set()) {
      // Towers: every parallel region LibTorch's own. Training with OpenBLAS: the products get the CPUs.
      const bool blas_gets_cpus = training && !at::hasMKL();
      set_blas(blas_gets_cpus ? want : 1);
      out.openblas_single = !blas_gets_cpus || want == 1;
      at::set_num_threads(blas_gets_cpus ? 1 : want);
    } else {
      at::set_num_threads(want);
    }
  }
  out.intra_op = at::get_num_threads();
  out.openblas = openblas_threads();
  return out;
}

// The first of configure_cpu_threads() / configure_training_threads() to run decides.
const CpuThreads& configure(bool training) {
  static const CpuThreads done = configure_once(training);
  return done;
}

}  // namespace

int openblas_threads() {
  static const auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get ? get() : 0;
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

CpuThreads configure_cpu_threads() {
  const CpuThreads& done = configure(false);
  make_mkl_reproducible();
  return done;
}

CpuThreads configure_training_threads() {
  const CpuThreads& done = configure(true);
  make_mkl_reproducible();
  return done;
}

void make_mkl_reproducible() {
  static const bool done = [] {
    // MKL's C entry point (mkl.h maps mkl_set_dynamic to it; the lower-case symbols are the Fortran ones,
    // taking a pointer), found the way configure_once() finds OpenBLAS's; absent without MKL. (LibTorch turns
    // it off only inside at::set_num_threads, which generative runs need not call.)
    using SetDynamic = void (*)(int);
    auto* set_dynamic = reinterpret_cast<SetDynamic>(dlsym(RTLD_DEFAULT, "MKL_Set_Dynamic"));
    if (set_dynamic == nullptr) return false;
    set_dynamic(0);
    // MKL's vector math (VML) picks each function's CPU kernel on its first call. When that first call comes
    // from two OpenMP threads at once (an elementwise op over a tensor big enough to split), one thread can get
    // a low-accuracy kernel: RoPE's cos of a 186 x 12 table came back with errors of 1.5e-4 in exactly the
    // second thread's half, one run in twenty, moving logits 100x (none in 150 runs after this). Each
    // function's first call is made here, on this thread alone (one element: no split).
    const at::Tensor one = at::full({1}, 0.5f);
    for (const at::Tensor& t :
         {one.cos(), one.sin(), one.tan(), one.atan(), one.exp(), one.expm1(), one.log(), one.log1p(), one.tanh(),
          one.sigmoid(), one.erf(), one.erfinv(), one.sqrt(), one.rsqrt(), one.pow(0.5)})
      (void)t;
    return true;
  }();
  (void)done;
}

}  // namespace mvb::nn
