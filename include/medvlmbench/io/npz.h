// NumPy .npy arrays and .npz archives (a ZIP of .npy members, stored or deflated), as written by
// numpy.save / savez / savez_compressed. Numeric dtypes only (bool, int/uint 8-64, float 16/32/64);
// object arrays (pickles) are refused with a clear error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "medvlmbench/io/zip.h"

namespace mvb::io {

struct NpyArray {
  char kind = 0;      // 'b' bool, 'i' signed, 'u' unsigned, 'f' float
  int item_size = 0;  // bytes per element
  std::vector<int64_t> shape;
  std::string data;  // C order, little-endian (converted on load)

  int64_t numel() const;
  // Element i (flat C-order index) as double / int64, whatever the stored dtype.
  double get_double(int64_t i) const;
  int64_t get_int(int64_t i) const;
  std::string dtype_string() const;  // e.g. "uint8", "float32"
};

// Parses one .npy blob; `name` is used in error messages.
NpyArray parse_npy(const std::string& bytes, const std::string& name);
NpyArray read_npy_file(const std::string& path);

class NpzFile {
 public:
  explicit NpzFile(const std::string& path);  // throws mvb::Error naming the file
  const std::string& path() const { return zip_.path(); }
  std::vector<std::string> keys() const;  // member names without ".npy"
  bool contains(const std::string& key) const;
  // Throws mvb::Error naming the file, the key and the available keys when absent.
  NpyArray read(const std::string& key) const;

 private:
  ZipReader zip_;
};

}  // namespace mvb::io
