#include "medvlmbench/vision/tensor_pool.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace mvb {
namespace {

// Small tensors gain nothing (malloc keeps them), and a bounded list per size keeps memory
// bounded: a run uses one or two input sizes, with at most (workers x prefetch depth x batch)
// tensors alive at once.
constexpr size_t kMinPooledBytes = 64 * 1024;
constexpr size_t kMaxFreePerSize = 64;
constexpr size_t kAlignment = 64;  // what c10's CPU allocator guarantees

class BlockPool {
 public:
  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& list = free_[bytes];
      if (!list.empty()) {
        void* p = list.back();
        list.pop_back();
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void give_back(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& list = free_[bytes];
      if (list.size() < kMaxFreePerSize) {
        list.push_back(p);
        return;
      }
    }
    std::free(p);
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
};

// Never destroyed: tensors may outlive static destruction order at exit.
BlockPool& pool() {
  static BlockPool* p = new BlockPool();
  return *p;
}

}  // namespace

at::Tensor pooled_float_tensor(at::IntArrayRef sizes) {
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  const size_t bytes = static_cast<size_t>(numel) * sizeof(float);
  if (bytes < kMinPooledBytes) return at::empty(sizes, at::kFloat);
  void* p = pool().take(bytes);
  return at::from_blob(
      p, sizes, [bytes](void* q) { pool().give_back(q, bytes); }, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace mvb
