// CPU thread policy for the towers. Debian's LibTorch starts with ONE intra-op thread on these
// machines (cpuinfo counts no physical cores), while its fp32 BLAS (OpenBLAS, pthreads) runs its own
// thread pool; raising LibTorch's threads without taming OpenBLAS nests the two pools inside batched
// matmuls (at::bmm calls OpenBLAS from a parallel_for) and measured many times slower.
#pragma once

namespace mvb::nn {

struct CpuThreads {
  int intra_op = 1;              // LibTorch intra-op threads after the call
  bool openblas_single = false;  // whether OpenBLAS was set to one thread
  int openblas = 0;              // OpenBLAS threads after the call; 0 when OpenBLAS is not the loaded BLAS
};

// Sets OpenBLAS, when it is the loaded BLAS, to one thread, so that every parallel region is
// LibTorch's own, and gives LibTorch one intra-op thread per CPU this process may run on
// (sched_getaffinity: a Slurm allocation, taskset). Measured on a 2-CPU machine (bench/clip_bench.cpp,
// ViT-B/16 encode_image at load ~1.5): two threads 1.95 s vs 3.29 s for one. The machine's load
// average is deliberately not consulted: on a shared cluster node it counts other users' jobs, not
// the CPUs this process was given. MVB_NUM_THREADS=N asks for N; with OMP_NUM_THREADS set (and no
// MVB_NUM_THREADS) nothing is changed. Runs once per process; later calls return the first result.
CpuThreads configure_cpu_threads();

// The thread policy of training on CPU (forward + backward + optimizer; `medvlmbench train` and
// bench/lora_step_bench). With MKL (the PyPI wheel) it is configure_cpu_threads(): MKL's products run on
// LibTorch's own OpenMP threads, so nothing nests. With OpenBLAS (Debian's LibTorch) the opposite of
// configure_cpu_threads(): LibTorch gets ONE intra-op thread and OpenBLAS one thread per usable CPU, so
// the matrix products, 75-90% of a LoRA step's time, use every CPU, and no LibTorch parallel region calls
// OpenBLAS (at::bmm in attention and its backward) from several threads at once. Measured
// (bench/lora_step_bench, Debian LibTorch 1.13, SkylakeX kernels, 2 CPUs shared, load ~4): LibTorch 2 +
// OpenBLAS 1 thread, what configure_cpu_threads() gives, 15.6 s a step; LibTorch 1 + OpenBLAS 2, 5.0 s.
// MVB_NUM_THREADS=N asks for N; with OMP_NUM_THREADS set (and no MVB_NUM_THREADS) nothing is changed. Call
// it instead of configure_cpu_threads() (the first of the two to run decides); runs once per process.
CpuThreads configure_training_threads();

// Makes MKL (the PyPI wheel's BLAS and vector math; Debian's OpenBLAS build has none and is left alone)
// give the same numbers run after run: (1) its dynamic thread count goes off (left on, each sgemm's threads
// follow the machine's load); (2) the vector-math functions LibTorch routes to MKL get their first call
// here, on one thread. MKL picks a function's CPU kernel on its first call, and when that call came from two
// OpenMP threads at once, one thread could get a low-accuracy kernel: RoPE's cos table came back 1.5e-4 off
// in exactly the second thread's half, one run in twenty, and moved XGenMiniV1's fixture logits 100x (CI
// failed on it). Every model and decoder calls it; it runs once per process and costs microseconds.
void make_mkl_reproducible();

// Threads OpenBLAS runs each call on (openblas_get_num_threads); 0 when the loaded BLAS is not OpenBLAS.
int openblas_threads();

// CPUs this process may run on (its affinity mask).
int usable_cpus();

}  // namespace mvb::nn
