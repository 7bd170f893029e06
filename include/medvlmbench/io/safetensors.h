// safetensors (https://github.com/huggingface/safetensors) reader and writer.
//
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
// [begin, end]}, "__metadata__": {str: str}}, then the data buffer. The reader validates the header
// the way the reference implementation does (length bounds, known dtypes, sizes matching shapes,
// offsets in bounds, no overlaps and no holes) so a truncated or hostile file is refused with a clear
// error before anything is read.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/io/state_dict.h"

namespace mvb::io {

// Largest header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100ull * 1000 * 1000;

// Maps `path` and indexes its tensors (lazily; no tensor data is read).
StateDict open_safetensors(const std::string& path);
// Reads only the header's "__metadata__" (empty when absent).
std::map<std::string, std::string> safetensors_metadata(const std::string& path);

// Writes tensors (any device/layout; stored contiguous on CPU) atomically. Names are stored sorted,
// data 8-byte aligned. Throws on duplicate names or unsupported dtypes.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Opens a sharded checkpoint from its index file ({"weight_map": {name: shard file}}); every shard is
// mapped once and each name must be found in the shard the index names.
StateDict open_sharded_index(const std::string& index_path);

}  // namespace mvb::io
