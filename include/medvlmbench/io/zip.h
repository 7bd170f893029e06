// Read-only access to ZIP archives (the container of .npz files and of PyTorch's zip checkpoints):
// central directory with ZIP64, stored and deflated members, CRC-checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mvb::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

class ZipReader {
 public:
  // Reads the central directory; throws mvb::Error naming `path` when the file is missing, is not a
  // ZIP archive or is truncated.
  explicit ZipReader(std::string path);

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent

  // The decompressed member; throws on an unsupported method, a short read or a CRC mismatch.
  std::string read(const ZipEntry& e) const;
  std::string read(const std::string& name) const;
  // File offset of the member's (possibly compressed) data, after its local header.
  uint64_t data_offset(const ZipEntry& e) const;

 private:
  std::string path_;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
};

}  // namespace mvb::io
