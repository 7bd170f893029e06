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

}  // namespace mvb::core
