// A focused Apache Parquet reader for the annotation/image files medical VQA datasets are published
// as (e.g. the Hugging Face copies of PathVQA and VQA-RAD): thrift compact footer, flat columns and
// struct fields such as image{bytes,path}, PLAIN / dictionary (RLE_DICTIONARY, PLAIN_DICTIONARY) /
// RLE / DELTA_* / BYTE_STREAM_SPLIT encodings, data pages v1 and v2, and UNCOMPRESSED, SNAPPY, GZIP
// and ZSTD codecs. Repeated (list) columns and LZ4/Brotli are refused with a clear error.
// Column chunks are read on demand, so a large file costs only the columns asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mvb::io {

struct ParquetColumn {
  std::string path;       // dotted path of the leaf, e.g. "question" or "image.bytes"
  int physical_type = 0;  // 0 BOOLEAN 1 INT32 2 INT64 3 INT96 4 FLOAT 5 DOUBLE 6 BYTE_ARRAY 7 FIXED_LEN_BYTE_ARRAY
  int type_length = 0;    // FIXED_LEN_BYTE_ARRAY width
  int max_def = 0;        // max definition level (number of optional/repeated ancestors incl. itself)
  int max_rep = 0;        // max repetition level (> 0 for list columns)
};

// One column's values for a range of rows: one entry per row.
struct ParquetValues {
  std::vector<uint8_t> present;    // 0 where the value is null
  std::vector<std::string> bytes;  // BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, INT96 (raw)
  std::vector<int64_t> ints;       // BOOLEAN, INT32, INT64
  std::vector<double> doubles;     // FLOAT, DOUBLE
  size_t size() const { return present.size(); }
  bool is_null(size_t i) const { return !present[i]; }
  // Any non-null value as text (numbers formatted as Python's str() would for ints).
  std::string as_string(size_t i) const;
};

class ParquetFile {
 public:
  // Reads and validates the footer; throws mvb::Error naming `path` when it is missing, is not a
  // Parquet file or is truncated.
  explicit ParquetFile(std::string path);

  const std::string& path() const { return path_; }
  int64_t num_rows() const { return num_rows_; }
  int num_row_groups() const { return static_cast<int>(row_groups_.size()); }
  int64_t row_group_num_rows(int rg) const { return row_groups_.at(rg).num_rows; }
  const std::vector<ParquetColumn>& columns() const { return columns_; }
  int column_index(const std::string& dotted_path) const;  // -1 when absent
  // Throws mvb::Error naming the file and listing the columns present when absent.
  int require_column(const std::string& dotted_path) const;

  // Encodings the writer lists for a column chunk (Parquet Encoding enum values, e.g. 0 PLAIN,
  // 5 DELTA_BINARY_PACKED, 8 RLE_DICTIONARY).
  const std::vector<int>& encodings(int rg, int column) const { return row_groups_.at(rg).chunks.at(column).encodings; }

  // Decodes column `column` of row group `rg`.
  ParquetValues read(int rg, int column) const;
  // Decodes a column across all row groups.
  ParquetValues read_all(int column) const;

 private:
  struct Chunk {
    int codec = 0;
    int64_t num_values = 0;
    int64_t start = 0;  // first page (dictionary page when present)
    int64_t size = 0;   // total compressed size
    std::vector<int> encodings;
  };
  struct RowGroup {
    int64_t num_rows = 0;
    std::vector<Chunk> chunks;
  };
  std::string path_;
  int64_t file_size_ = 0;
  int64_t num_rows_ = 0;
  std::vector<ParquetColumn> columns_;
  std::vector<RowGroup> row_groups_;
};

}  // namespace mvb::io
