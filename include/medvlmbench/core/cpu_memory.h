// Live and peak bytes of LibTorch's CPU tensor memory, for the memory tests and benchmarks (peak
// activation memory of a training step, with and without gradient checkpointing). Installing the
// tracker wraps the CPU allocator LibTorch uses (c10::SetCPUAllocator): every CPU tensor allocated
// afterwards is counted until freed. Peak RSS (core/process_stats.h) also sees the allocator's
// retained pages and the libraries; this counts tensor bytes only.
#pragma once

#include <cstdint>

namespace mvb::core {

// Installs the counting allocator (once per process; later calls do nothing).
void install_cpu_memory_tracker();
bool cpu_memory_tracker_installed();
// Bytes of CPU tensors alive now, and the most alive at once since the last reset_cpu_peak().
int64_t cpu_live_bytes();
int64_t cpu_peak_bytes();
void reset_cpu_peak();

// Lets glibc's malloc keep freed tensor blocks up to 32 MiB for reuse. By default each block above its
// (adaptive) mmap threshold gets a fresh mapping that is unmapped on free, so every activation of a batched
// forward (a [16, 281, 768] fp32 tensor is 13.8 MB) was page-faulted and zeroed by the kernel again: ~7% of
// a batch-16 prompt pass (bench_generation_bench, Debian's LibTorch). Peak RSS is unchanged in that bench;
// memory freed at the top of the heap is still returned beyond 1 GiB. Does nothing when the user tunes
// malloc (GLIBC_TUNABLES, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) or the C library is not glibc.
// Once per process; the CLI calls it for runs on CPU.
void reuse_freed_tensor_memory();

}  // namespace mvb::core
