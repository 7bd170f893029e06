// CPU thread policy for the towers. Debian's LibTorch starts with ONE intra-op thread on these
// machines (cpuinfo counts no physical cores), while its fp32 BLAS (OpenBLAS, pthreads) runs its own
// thread pool; raising LibTorch's threads without taming OpenBLAS nests the two pools inside batched
// matmuls (at::bmm calls OpenBLAS from a parallel_for) and measured many times slower.
#pragma once

namespace mvb::nn {

struct CpuThreads {
  int intra_op = 1;      // LibTorch intra-op threads after the call
  bool openblas_single;  // whether OpenBLAS was set to one thread
};

// Gives LibTorch one intra-op thread per CPU this process may run on (sched_getaffinity) and sets
// OpenBLAS, when it is the loaded BLAS, to one thread, so that every parallel region is LibTorch's
// own. Leaves everything alone when OMP_NUM_THREADS or MVB_NUM_THREADS is set (MVB_NUM_THREADS=N
// asks for N). Runs once per process; later calls return the first result.
CpuThreads configure_cpu_threads();

}  // namespace mvb::nn
