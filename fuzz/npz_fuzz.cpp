// Fuzz target: NumPy .npy / .npz (io/npz.h) on arbitrary bytes. Input starting with "PK" goes
// through the .npz path (our zip reader: stored and deflated members), anything else through
// parse_npy (header dict parsing, dtype/shape checks); every element accepted is read back.
#include <cstring>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/npz.h"

namespace {
void touch(const mvb::io::NpyArray& a) {
  (void)a.dtype_string();
  const int64_t n = a.numel();
  for (int64_t i = 0; i < n; ++i) {
    (void)a.get_double(i);
    (void)a.get_int(i);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    if (size >= 2 && std::memcmp(data, "PK", 2) == 0) {
      const std::string path = mvb::fuzz::write_scratch("input.npz", data, size);
      const mvb::io::NpzFile npz(path);
      for (const auto& key : npz.keys()) {
        try {
          touch(npz.read(key));
        } catch (const mvb::Error& e) {
          mvb::fuzz::refused(e);
        }
      }
    } else {
      touch(mvb::io::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz input"));
    }
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
