#include "medvlmbench/core/cpu_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "medvlmbench/core/torch_compat.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mvb::core {
namespace {

std::atomic<int64_t> g_live{0}, g_peak{0};
std::atomic<bool> g_installed{false};

// Sizes and the wrapped allocator's deleters by data pointer. The DataPtr handed out keeps the data
// pointer as its context (as the default CPU allocator does), so raw_allocate/raw_deleter work.
struct Registry {
  std::mutex mu;
  std::unordered_map<void*, std::pair<size_t, c10::DeleterFnPtr>> blocks;
};
Registry& registry() {
  static auto* r = new Registry();  // never destroyed: tensors may be freed during exit
  return *r;
}

void counted_delete(void* p) {
  if (p == nullptr) return;
  std::pair<size_t, c10::DeleterFnPtr> b{0, nullptr};
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    auto it = registry().blocks.find(p);
    if (it == registry().blocks.end()) return;  // not ours (cannot happen: only ours use this deleter)
    b = it->second;
    registry().blocks.erase(it);
  }
  g_live -= static_cast<int64_t>(b.first);
  if (b.second) b.second(p);
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* base) : base_(base) {}

#if MVB_TORCH_AT_LEAST(2, 3)
  c10::DataPtr allocate(size_t n) override { return wrap(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override { return wrap(n); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &counted_delete; }

 private:
  c10::DataPtr wrap(size_t n) const {
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    if (data == nullptr) return inner;
    // Take the memory over from the inner DataPtr: the default CPU allocator's context is the data
    // pointer itself, freed by its deleter.
    const c10::DeleterFnPtr del = inner.get_deleter();
    if (inner.get_context() != data || !inner.release_context()) return inner;  // not countable: pass through
    {
      std::lock_guard<std::mutex> lock(registry().mu);
      registry().blocks[data] = {n, del};
    }
    const int64_t live = g_live += static_cast<int64_t>(n);
    int64_t peak = g_peak.load();
    while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
    }
    return {data, data, &counted_delete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::Allocator* base_;
};

}  // namespace

void install_cpu_memory_tracker() {
  static std::once_flag once;
  std::call_once(once, [] {
    static auto* a = new CountingAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(a, /*priority=*/std::numeric_limits<uint8_t>::max());
    g_installed = true;
  });
}
bool cpu_memory_tracker_installed() { return g_installed; }
int64_t cpu_live_bytes() { return g_live; }
int64_t cpu_peak_bytes() { return g_peak; }
void reset_cpu_peak() { g_peak = g_live.load(); }

void reuse_freed_tensor_memory() {
  static const bool done = [] {
#if defined(__GLIBC__)
    for (const char* user : {"GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"})
      if (std::getenv(user) != nullptr) return false;
    // 32 MiB is the largest threshold glibc accepts on 64-bit (half its heap size); setting it also stops
    // the adaptive threshold from moving.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
#else
    return false;
#endif
  }();
  (void)done;
}

}  // namespace mvb::core
