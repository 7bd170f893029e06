// Checkpoint weights as a lazy, name-addressed view over memory-mapped files.
//
// Every supported format (safetensors, torch.save zip checkpoints, sharded folders of either) reduces
// to the same record: a byte range of a mapped file plus a tensor view (dtype, shape, strides,
// offset). Nothing is read until a tensor is asked for, and then only its pages; a tensor whose bytes
// are suitably aligned is returned zero-copy (it keeps the mapping alive), so loading a 7B model never
// holds two copies in memory.
//
// Typical use by a model author (nn/weights.h moves tensors into modules):
//   auto sd = io::StateDict::open(model_path);                     // file, folder or sharded index
//   nn::TensorMap w = nn::read_weights(sd, [](const std::string& n) -> std::optional<std::string> {
//     if (n == "lm_head.bias") return std::nullopt;                // skip a tensor
//     return n;                                                    // Hugging Face names: no renames
//   });
//   nn::assign_weights(*module, w, sd.source());  // strict: throws listing missing/unexpected/shape
//   at::Tensor p = sd.get("visual.proj", at::kFloat);              // or fetch single tensors
// assign_weights copies each tensor into its parameter and releases the mapped pages behind it, so
// loading holds about one copy of the weights.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mvb::io {

// A read-only file mapped privately (copy-on-write): tensors built on it may be modified in place
// without touching the file.
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tells the kernel a byte range will not be needed again (after it was copied into a module).
  void release(uint64_t offset, uint64_t bytes) const;

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Where one tensor lives: `bytes` bytes of storage at `offset` in `file`, viewed with shape/strides
// (in elements) starting `storage_offset` elements into the storage.
struct TensorRecord {
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // empty = contiguous
  int64_t storage_offset = 0;
  std::shared_ptr<const MappedFile> file;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::string storage_key;  // tensors sharing storage in a torch checkpoint share this key

  int64_t numel() const;
};

// A rename rule applied to every name: names starting with `from` get that prefix replaced by `to`.
// With regex = true, `from` is an ECMAScript regex and `to` its replacement (std::regex_replace).
// A rule whose `to` is "<drop>" removes matching names.
struct RenameRule {
  std::string from;
  std::string to;
  bool regex = false;
};

class StateDict {
 public:
  // Opens a weights file (.safetensors, .bin/.pt/.pth/.ckpt) or a checkpoint folder: sharded
  // model.safetensors.index.json / pytorch_model.bin.index.json, a single model.safetensors /
  // pytorch_model.bin / open_clip_pytorch_model.bin, or the only weights file in it. Throws
  // mvb::Error naming the file when it is missing or malformed.
  static StateDict open(const std::string& path);
  // The weights file(s) `open` would read in a folder, in load order (empty when none).
  static std::vector<std::string> weight_files(const std::string& dir);

  void add(const std::string& name, TensorRecord rec);
  // Adds all tensors of `other`; a name present in both is an error naming both sources.
  void merge(const StateDict& other);

  size_t size() const { return names_.size(); }
  bool empty() const { return names_.empty(); }
  const std::vector<std::string>& names() const { return names_; }  // file order
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorRecord& record(const std::string& name) const;

  // Materialises one tensor: zero-copy on the mapping when no cast is needed and the data is
  // aligned for its dtype, otherwise a fresh copy. Throws mvb::Error naming the missing key.
  at::Tensor get(const std::string& name, std::optional<at::ScalarType> dtype = std::nullopt) const;

  // A new view with every name rewritten by `rules` (first matching rule wins; unmatched names keep
  // their name). Two names mapping to one is an error naming both.
  StateDict remap(const std::vector<RenameRule>& rules) const;
  // Only the names under `prefix`, with the prefix removed (e.g. "vision_model.").
  StateDict subtree(const std::string& prefix) const;

  int64_t num_parameters() const;
  std::map<std::string, int64_t> dtype_counts() const;  // "F32" -> tensors
  std::string source() const { return source_; }
  void set_source(std::string s) { source_ = std::move(s); }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, TensorRecord> index_;
  std::string source_;
};

// After a zero-copy tensor from StateDict::get() was copied into a module: gives the whole pages it
// spans on its mapped file back to the kernel, so loading holds about one copy of the weights (the
// module's) instead of two. A no-op for tensors not on a mapping. The tensor stays valid: reading it
// again faults the pages back in from the file (in-place changes made to it are lost).
void release_mapped_pages(const at::Tensor& t);

// Names for dtypes as safetensors spells them ("F32", "BF16" ...).
std::string dtype_name(at::ScalarType t);

}  // namespace mvb::io
