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
