#include "medvlmbench/nn/kv_cache.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

KVCache::KVCache(const KVCacheShape& shape, at::ScalarType dtype, c10::Device device) : shape_(shape) {
  MVB_CHECK(shape.num_layers > 0 && shape.batch > 0 && shape.kv_heads > 0 && shape.head_dim > 0 && shape.capacity > 0,
            "KV cache shape must be positive (layers ", shape.num_layers, ", batch ", shape.batch, ", kv heads ",
            shape.kv_heads, ", head dim ", shape.head_dim, ", capacity ", shape.capacity, ")");
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  keys_.reserve(shape.num_layers);
  values_.reserve(shape.num_layers);
  for (int64_t i = 0; i < shape.num_layers; ++i) {
    // Uninitialised: only positions below length() are ever read (and those were written).
    keys_.push_back(at::empty({shape.batch, shape.kv_heads, shape.capacity, shape.head_dim}, opts));
    values_.push_back(at::empty({shape.batch, shape.kv_heads, shape.capacity, shape.head_dim}, opts));
  }
}

std::pair<at::Tensor, at::Tensor> KVCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  MVB_CHECK(layer >= 0 && layer < shape_.num_layers, "KV cache has ", shape_.num_layers, " layers, not layer ", layer);
  const int64_t n = k.size(2), end = length_ + n;
  MVB_CHECK(end <= shape_.capacity, "KV cache capacity ", shape_.capacity, " exceeded (", length_, " stored + ", n,
            " new positions): allocate it for prompt + max new tokens");
  MVB_CHECK(k.size(0) == shape_.batch && k.size(1) == shape_.kv_heads && k.size(3) == shape_.head_dim &&
                v.sizes() == k.sizes(),
            "KV cache expects [", shape_.batch, ", ", shape_.kv_heads, ", L, ", shape_.head_dim,
            "] keys and values, got ", k.sizes(), " and ", v.sizes());
  at::Tensor& kb = keys_[layer];
  at::Tensor& vb = values_[layer];
  kb.narrow(2, length_, n).copy_(k);
  vb.narrow(2, length_, n).copy_(v);
  return {kb.narrow(2, 0, end), vb.narrow(2, 0, end)};
}

void KVCache::commit(int64_t n) {
  MVB_CHECK(n >= 0 && length_ + n <= shape_.capacity, "KV cache commit of ", n, " positions past capacity ",
            shape_.capacity);
  length_ += n;
}

void KVCache::select_rows(const std::vector<int64_t>& rows) {
  MVB_CHECK(!rows.empty(), "KV cache: select_rows needs at least one row (clear the cache instead)");
  for (int64_t r : rows)
    MVB_CHECK(r >= 0 && r < shape_.batch, "KV cache: row ", r, " is outside the batch of ", shape_.batch);
  if (static_cast<int64_t>(rows.size()) == shape_.batch) {
    bool identity = true;
    for (size_t i = 0; i < rows.size(); ++i) identity = identity && rows[i] == static_cast<int64_t>(i);
    if (identity) return;
  }
  if (keys_.empty()) return;
  at::Tensor index = at::tensor(rows, at::kLong).to(keys_[0].device());
  // Only the stored prefix is copied; the rest of each new buffer stays unwritten.
  for (size_t i = 0; i < keys_.size(); ++i) {
    for (at::Tensor* buf : {&keys_[i], &values_[i]}) {
      at::Tensor fresh = at::empty(
          {static_cast<int64_t>(rows.size()), shape_.kv_heads, shape_.capacity, shape_.head_dim}, buf->options());
      if (length_ > 0) fresh.narrow(2, 0, length_).copy_(buf->narrow(2, 0, length_).index_select(0, index));
      *buf = fresh;
    }
  }
  shape_.batch = static_cast<int64_t>(rows.size());
}

void KVCache::broadcast_prefix(const KVCache& prefix) {
  MVB_CHECK(length_ == 0, "KV cache: broadcast_prefix needs an empty cache (it holds ", length_, " positions)");
  MVB_CHECK(prefix.shape_.batch == 1 && prefix.shape_.num_layers == shape_.num_layers &&
                prefix.shape_.kv_heads == shape_.kv_heads && prefix.shape_.head_dim == shape_.head_dim,
            "KV cache: broadcast_prefix needs a one-row cache of the same layers, kv heads and head size");
  const int64_t n = prefix.length_;
  MVB_CHECK(n <= shape_.capacity, "KV cache capacity ", shape_.capacity, " is below the prefix's ", n, " positions");
  for (size_t i = 0; i < keys_.size(); ++i) {
    keys_[i].narrow(2, 0, n).copy_(prefix.keys_[i].narrow(2, 0, n).expand({shape_.batch, -1, -1, -1}));
    values_[i].narrow(2, 0, n).copy_(prefix.values_[i].narrow(2, 0, n).expand({shape_.batch, -1, -1, -1}));
  }
  length_ = n;
}

int64_t KVCache::nbytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) total += keys_[i].nbytes() + values_[i].nbytes();
  return static_cast<int64_t>(total);
}

}  // namespace mvb::nn
