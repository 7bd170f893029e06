// Fuzz target: the Parquet reader (io/parquet.h) on arbitrary file bytes: the thrift compact footer,
// schema flattening, page headers, every encoding and codec it supports, for every column of every
// row group, and as_string() on every value decoded.
#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/parquet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mvb::fuzz::write_scratch("input.parquet", data, size);
  try {
    const mvb::io::ParquetFile pf(path);
    for (int rg = 0; rg < pf.num_row_groups(); ++rg) {
      for (int c = 0; c < static_cast<int>(pf.columns().size()); ++c) {
        try {
          const mvb::io::ParquetValues v = pf.read(rg, c);
          for (size_t i = 0; i < v.size(); ++i)
            if (!v.is_null(i)) (void)v.as_string(i);
        } catch (const mvb::Error& e) {
          // One bad column chunk must not hide bugs in the others.
          mvb::fuzz::refused(e);
        }
      }
    }
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
