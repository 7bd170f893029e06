// A preallocated key/value cache for decoder-only generation.
//
// One [B, kv_heads, capacity, head_dim] buffer pair per layer, allocated once for prompt + new tokens,
// so decoding never reallocates or concatenates. Every row of a batch has the same length because
// batches are left-padded (the padding is masked, not skipped). Sliding-window layers keep the whole
// history and mask what falls outside the window: simpler than a rolling buffer, and the windows of
// the models we run (Gemma3 1024) are far larger than the prompts of a VQA benchmark.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <utility>
#include <vector>

namespace mvb::nn {

struct KVCacheShape {
  int64_t num_layers = 0;
  int64_t batch = 1;
  int64_t kv_heads = 1;
  int64_t head_dim = 64;
  int64_t capacity = 0;  // prompt + max new tokens
};

class KVCache {
 public:
  KVCache() = default;
  KVCache(const KVCacheShape& shape, at::ScalarType dtype, c10::Device device);

  bool defined() const { return !keys_.empty(); }
  const KVCacheShape& shape() const { return shape_; }
  int64_t batch() const { return shape_.batch; }
  // Positions already stored (the same for every row and every layer once a step is committed).
  int64_t length() const { return length_; }
  int64_t capacity() const { return shape_.capacity; }

  // Writes this step's k/v ([B, kv_heads, L, head_dim]) for `layer` at [length(), length() + L) and
  // returns views of keys and values over [0, length() + L). Throws when capacity would be exceeded.
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  // Ends a step: every layer has appended `n` positions.
  void commit(int64_t n);
  // Keeps only the given batch rows (finished sequences leave the batch), in that order.
  void select_rows(const std::vector<int64_t>& rows);
  void clear() { length_ = 0; }
  // Starts an empty cache with the positions stored in `prefix` (a one-row cache of the same layers,
  // heads and dtype), copied into every row: a prompt prefix the whole batch shares, computed once.
  void broadcast_prefix(const KVCache& prefix);
  // Bytes held by the buffers.
  int64_t nbytes() const;

 private:
  KVCacheShape shape_;
  std::vector<at::Tensor> keys_, values_;
  int64_t length_ = 0;
};

}  // namespace mvb::nn
