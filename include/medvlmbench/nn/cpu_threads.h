// CPU thread policy for the towers. Debian's LibTorch starts with ONE intra-op thread on these
// machines (cpuinfo counts no physical cores), while its fp32 BLAS (OpenBLAS, pthreads) runs its own
// thread pool; raising LibTorch's threads without taming OpenBLAS nests the two pools inside batched
// matmuls (at::bmm calls OpenBLAS from a parallel_for) and measured many times slower.
#pragma once

namespace mvb::nn {

struct CpuThreads {
  int intra_op = 1;              // LibTorch intra-op threads after the call
  bool openblas_single = false;  // whether OpenBLAS was set to one thread
  double load_average = 0;       // 1-minute load average seen when choosing
};

// Sets OpenBLAS, when it is the loaded BLAS, to one thread, so that every parallel region is
// LibTorch's own, and gives LibTorch one intra-op thread per CPU this process may run on
// (sched_getaffinity) — unless the machine is already oversubscribed (1-minute load average >= CPUs),
// then one thread fewer per excess runnable task, at least 1. Measured on the shared 2-CPU machines
// (bench/clip_bench.cpp, ViT-B/16 encode_image): at load ~1.5 two threads took 1.95 s vs 3.29 s for
// one; at load ~4 two threads took 5.6-6.3 s vs 3.2-3.7 s for one (OpenMP barriers wait for busy
// cores). MVB_NUM_THREADS=N asks for N; with OMP_NUM_THREADS set (and no MVB_NUM_THREADS) nothing is
// changed. Runs once per process; later calls return the first result.
CpuThreads configure_cpu_threads();

// Threads for `cpus` usable CPUs under `load_average` (the rule above).
int idle_cpu_threads(int cpus, double load_average);

}  // namespace mvb::nn
