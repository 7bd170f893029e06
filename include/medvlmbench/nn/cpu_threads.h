// CPU thread policy for the towers. Debian's LibTorch starts with ONE intra-op thread on these
// machines (cpuinfo counts no physical cores), while its fp32 BLAS (OpenBLAS, pthreads) runs its own
// thread pool; raising LibTorch's threads without taming OpenBLAS nests the two pools inside batched
// matmuls (at::bmm calls OpenBLAS from a parallel_for) and measured many times slower.
#pragma once

namespace mvb::nn {

struct CpuThreads {
  int intra_op = 1;              // LibTorch intra-op threads after the call
  bool openblas_single = false;  // whether OpenBLAS was set to one thread
};

// Sets OpenBLAS, when it is the loaded BLAS, to one thread, so that every parallel region is
// LibTorch's own, and gives LibTorch one intra-op thread per CPU this process may run on
// (sched_getaffinity: a Slurm allocation, taskset). Measured on a 2-CPU machine (bench/clip_bench.cpp,
// ViT-B/16 encode_image at load ~1.5): two threads 1.95 s vs 3.29 s for one. The machine's load
// average is deliberately not consulted: on a shared cluster node it counts other users' jobs, not
// the CPUs this process was given. MVB_NUM_THREADS=N asks for N; with OMP_NUM_THREADS set (and no
// MVB_NUM_THREADS) nothing is changed. Runs once per process; later calls return the first result.
CpuThreads configure_cpu_threads();

// Makes MKL (the PyPI wheel's BLAS and vector math; Debian's OpenBLAS build has none and is left alone)
// give the same numbers run after run: (1) its dynamic thread count goes off (left on, each sgemm's threads
// follow the machine's load); (2) the vector-math functions LibTorch routes to MKL get their first call
// here, on one thread. MKL picks a function's CPU kernel on its first call, and when that call came from two
// OpenMP threads at once, one thread could get a low-accuracy kernel: RoPE's cos table came back 1.5e-4 off
// in exactly the second thread's half, one run in twenty, and moved XGenMiniV1's fixture logits 100x (CI
// failed on it). Every model and decoder calls it; it runs once per process and costs microseconds.
void make_mkl_reproducible();

// CPUs this process may run on (its affinity mask).
int usable_cpus();

}  // namespace mvb::nn
