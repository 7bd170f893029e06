#include "medvlmbench/io/parquet.h"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/parquet_thrift.h"

namespace mvb::io {
namespace {

enum Type { kBoolean = 0, kInt32 = 1, kInt64 = 2, kInt96 = 3, kFloat = 4, kDouble = 5, kByteArray = 6, kFixed = 7 };
enum Encoding {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9
};
const char* codec_name(int c) {
  static const char* kNames[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  return c >= 0 && c < 8 ? kNames[c] : "unknown";
}

std::string read_range(const std::string& path, int64_t offset, int64_t size) {
  std::ifstream f(path, std::ios::binary);
  MVB_CHECK(f, "cannot open ", path);
  std::string out(static_cast<size_t>(size), '\0');
  f.seekg(offset);
  f.read(out.data(), size);
  MVB_CHECK(f.gcount() == size, path, ": truncated Parquet file (wanted ", size, " bytes at offset ", offset, ")");
  return out;
}

// Bounds-checked cursor over a decoded page.
struct Cursor {
  const uint8_t* p;
  size_t n;
  size_t pos = 0;
  const std::string* what;
  void need(size_t k) const { MVB_CHECK(k <= n - pos, *what, ": truncated or corrupt Parquet page data"); }
  uint8_t byte() {
    need(1);
    return p[pos++];
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error(*what + ": corrupt Parquet page (varint)");
  }
  int64_t zigzag() {
    const uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  uint32_t u32() {
    need(4);
    uint32_t v;
    std::memcpy(&v, p + pos, 4);
    pos += 4;
    return v;
  }
};

uint64_t unpack_bits(const uint8_t* data, uint64_t bit_offset, int width) {
  uint64_t v = 0;
  for (int b = 0; b < width; ++b) {
    const uint64_t bit = bit_offset + b;
    v |= static_cast<uint64_t>((data[bit >> 3] >> (bit & 7)) & 1) << b;
  }
  return v;
}

// RLE / bit-packed hybrid (levels, dictionary indices, RLE booleans).
void decode_hybrid(Cursor& c, int width, size_t count, std::vector<uint32_t>& out) {
  out.clear();
  // Counts come from the (untrusted) page header: reserve at most what a sane page holds, and let
  // the vector grow as values are really decoded (a corrupt count threw std::length_error here,
  // found by fuzz/parquet_fuzz.cpp).
  out.reserve(std::min<size_t>(count, size_t{1} << 20));
  const size_t value_bytes = (width + 7) / 8;
  while (out.size() < count) {
    const uint64_t header = c.varint();
    if (header & 1) {
      const uint64_t values = (header >> 1) * 8;
      const size_t bytes = (header >> 1) * width;
      c.need(bytes);
      for (uint64_t k = 0; k < values && out.size() < count; ++k)
        out.push_back(static_cast<uint32_t>(unpack_bits(c.p + c.pos, k * width, width)));
      c.pos += bytes;
    } else {
      const uint64_t run = header >> 1;
      c.need(value_bytes);
      uint32_t v = 0;
      for (size_t k = 0; k < value_bytes; ++k) v |= static_cast<uint32_t>(c.p[c.pos + k]) << (8 * k);
      c.pos += value_bytes;
      MVB_CHECK(run > 0 || value_bytes > 0, *c.what, ": corrupt RLE run");
      for (uint64_t k = 0; k < run && out.size() < count; ++k) out.push_back(v);
      if (run == 0) break;
    }
  }
  MVB_CHECK(out.size() == count, *c.what, ": RLE data ended early (", out.size(), " of ", count, " values)");
}

int bit_width(int max_level) {
  int w = 0;
  while ((1 << w) <= max_level) ++w;
  return w;
}

// DELTA_BINARY_PACKED: returns the values and leaves the cursor after the last used miniblock.
std::vector<int64_t> decode_delta(Cursor& c) {
  const uint64_t block_size = c.varint();
  const uint64_t miniblocks = c.varint();
  const uint64_t total = c.varint();
  int64_t value = c.zigzag();
  MVB_CHECK(miniblocks > 0 && block_size % miniblocks == 0 && (block_size / miniblocks) % 8 == 0, *c.what,
            ": corrupt DELTA_BINARY_PACKED header");
  const uint64_t per_mini = block_size / miniblocks;
  std::vector<int64_t> out;
  if (total == 0) return out;
  out.reserve(std::min<uint64_t>(total, uint64_t{1} << 20));  // total is untrusted (see decode_hybrid)
  out.push_back(value);
  while (out.size() < total) {
    const int64_t min_delta = c.zigzag();
    c.need(miniblocks);
    std::vector<uint8_t> widths(c.p + c.pos, c.p + c.pos + miniblocks);
    c.pos += miniblocks;
    for (uint64_t m = 0; m < miniblocks && out.size() < total; ++m) {
      const int w = widths[m];
      MVB_CHECK(w <= 64, *c.what, ": corrupt DELTA_BINARY_PACKED bit width");
      const size_t bytes = per_mini * w / 8;
      c.need(bytes);
      for (uint64_t k = 0; k < per_mini && out.size() < total; ++k) {
        const uint64_t d = unpack_bits(c.p + c.pos, k * w, w);
        value = static_cast<int64_t>(static_cast<uint64_t>(value) + static_cast<uint64_t>(min_delta) + d);
        out.push_back(value);
      }
      c.pos += bytes;
    }
  }
  return out;
}

// A page's declared size is checked against the most its codec can expand its compressed bytes before
// anything is allocated: found by fuzzing, a 2.8 KB file whose snappy page declared 2.9 GB was
// allocated before decompressing. The ratios: snappy emits at most 64 bytes per 3-byte copy element,
// deflate at most 258 bytes per 2 bits (1032:1), zstd at most a 128 KB block per 4-byte RLE block.
void check_expansion(size_t declared, size_t compressed, size_t max_ratio, const char* codec, const std::string& what) {
  const size_t slack = 1024;  // frame and stream headers, a few literal bytes
  MVB_CHECK(declared <= compressed * max_ratio + slack, what, ": corrupt ", codec, " page (", compressed,
            " compressed bytes declare ", declared, " uncompressed, more than ", codec, " can expand to)");
}

std::string decompress(int codec, const std::string& in, size_t expected, const std::string& what) {
  switch (codec) {
    case 0:
      return in;
    case 1: {
      size_t n = 0;
      MVB_CHECK(snappy_uncompressed_length(in.data(), in.size(), &n) == SNAPPY_OK, what, ": corrupt snappy page");
      check_expansion(n, in.size(), 22, "snappy", what);
      std::string out(n, '\0');
      MVB_CHECK(snappy_uncompress(in.data(), in.size(), out.data(), &n) == SNAPPY_OK, what, ": corrupt snappy page");
      out.resize(n);
      return out;
    }
    case 2: {
      check_expansion(expected, in.size(), 1032, "gzip", what);
      std::string out(expected, '\0');
      z_stream zs{};
      MVB_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "zlib init failed");
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(out.size());
      const int rc = inflate(&zs, Z_FINISH);
      const size_t got = out.size() - zs.avail_out;
      inflateEnd(&zs);
      MVB_CHECK(rc == Z_STREAM_END && got == expected, what, ": corrupt gzip page");
      return out;
    }
    case 6: {
      check_expansion(expected, in.size(), 32768, "zstd", what);
      std::string out(expected, '\0');
      const size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
      MVB_CHECK(!ZSTD_isError(n) && n == expected, what, ": corrupt zstd page",
                ZSTD_isError(n) ? std::string(" (") + ZSTD_getErrorName(n) + ")" : std::string());
      return out;
    }
    default:
      throw Error(what + ": compression codec " + codec_name(codec) +
                  " is not supported (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD); rewrite the file with one of "
                  "those");
  }
}

// Decoded values of one page (non-null ones only), in a column-type-neutral holder.
struct PageValues {
  std::vector<std::string> bytes;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
};

void decode_plain(Cursor& c, const ParquetColumn& col, size_t count, PageValues& out) {
  switch (col.physical_type) {
    case kBoolean:
      c.need((count + 7) / 8);
      for (size_t k = 0; k < count; ++k) out.ints.push_back((c.p[c.pos + k / 8] >> (k % 8)) & 1);
      c.pos += (count + 7) / 8;
      break;
    case kInt32:
      c.need(count * 4);
      for (size_t k = 0; k < count; ++k) {
        int32_t v;
        std::memcpy(&v, c.p + c.pos + 4 * k, 4);
        out.ints.push_back(v);
      }
      c.pos += count * 4;
      break;
    case kInt64:
      c.need(count * 8);
      for (size_t k = 0; k < count; ++k) {
        int64_t v;
        std::memcpy(&v, c.p + c.pos + 8 * k, 8);
        out.ints.push_back(v);
      }
      c.pos += count * 8;
      break;
    case kFloat:
      c.need(count * 4);
      for (size_t k = 0; k < count; ++k) {
        float v;
        std::memcpy(&v, c.p + c.pos + 4 * k, 4);
        out.doubles.push_back(v);
      }
      c.pos += count * 4;
      break;
    case kDouble:
      c.need(count * 8);
      for (size_t k = 0; k < count; ++k) {
        double v;
        std::memcpy(&v, c.p + c.pos + 8 * k, 8);
        out.doubles.push_back(v);
      }
      c.pos += count * 8;
      break;
    case kByteArray:
      for (size_t k = 0; k < count; ++k) {
        const uint32_t len = c.u32();
        c.need(len);
        out.bytes.emplace_back(reinterpret_cast<const char*>(c.p + c.pos), len);
        c.pos += len;
      }
      break;
    case kInt96:
    case kFixed: {
      const size_t w = col.physical_type == kInt96 ? 12 : static_cast<size_t>(col.type_length);
      c.need(count * w);
      for (size_t k = 0; k < count; ++k) out.bytes.emplace_back(reinterpret_cast<const char*>(c.p + c.pos + k * w), w);
      c.pos += count * w;
      break;
    }
    default:
      throw Error(*c.what + ": unknown physical type " + std::to_string(col.physical_type));
  }
}

void decode_values(Cursor& c, int encoding, const ParquetColumn& col, size_t count, const PageValues* dict,
                   PageValues& out) {
  const std::string& what = *c.what;
  switch (encoding) {
    case kPlain:
      decode_plain(c, col, count, out);
      return;
    case kPlainDictionary:
    case kRleDictionary: {
      MVB_CHECK(dict, what, ": dictionary-encoded page without a dictionary page");
      if (count == 0) return;
      const int width = c.byte();
      MVB_CHECK(width <= 32, what, ": corrupt dictionary index width");
      std::vector<uint32_t> idx;
      decode_hybrid(c, width, count, idx);
      const size_t dict_size = std::max({dict->bytes.size(), dict->ints.size(), dict->doubles.size()});
      for (uint32_t i : idx) {
        MVB_CHECK(i < dict_size, what, ": dictionary index ", i, " out of range (dictionary has ", dict_size, ")");
        if (!dict->bytes.empty()) out.bytes.push_back(dict->bytes[i]);
        if (!dict->ints.empty()) out.ints.push_back(dict->ints[i]);
        if (!dict->doubles.empty()) out.doubles.push_back(dict->doubles[i]);
      }
      return;
    }
    case kRle: {
      MVB_CHECK(col.physical_type == kBoolean, what, ": RLE value encoding on a non-boolean column");
      c.u32();  // length prefix
      std::vector<uint32_t> v;
      decode_hybrid(c, 1, count, v);
      for (uint32_t b : v) out.ints.push_back(b);
      return;
    }
    case kDeltaBinaryPacked: {
      auto v = decode_delta(c);
      MVB_CHECK(v.size() == count, what, ": DELTA_BINARY_PACKED count mismatch");
      out.ints.insert(out.ints.end(), v.begin(), v.end());
      return;
    }
    case kDeltaLengthByteArray: {
      auto lens = decode_delta(c);
      MVB_CHECK(lens.size() == count, what, ": DELTA_LENGTH_BYTE_ARRAY count mismatch");
      for (int64_t len : lens) {
        MVB_CHECK(len >= 0, what, ": corrupt DELTA_LENGTH_BYTE_ARRAY length");
        c.need(static_cast<size_t>(len));
        out.bytes.emplace_back(reinterpret_cast<const char*>(c.p + c.pos), static_cast<size_t>(len));
        c.pos += len;
      }
      return;
    }
    case kDeltaByteArray: {
      auto prefix = decode_delta(c);
      auto lens = decode_delta(c);
      MVB_CHECK(prefix.size() == count && lens.size() == count, what, ": DELTA_BYTE_ARRAY count mismatch");
      std::string prev;
      for (size_t k = 0; k < count; ++k) {
        MVB_CHECK(prefix[k] >= 0 && static_cast<size_t>(prefix[k]) <= prev.size() && lens[k] >= 0, what,
                  ": corrupt DELTA_BYTE_ARRAY");
        c.need(static_cast<size_t>(lens[k]));
        std::string v = prev.substr(0, prefix[k]);
        v.append(reinterpret_cast<const char*>(c.p + c.pos), static_cast<size_t>(lens[k]));
        c.pos += lens[k];
        out.bytes.push_back(v);
        prev = std::move(v);
      }
      return;
    }
    case kByteStreamSplit: {
      const size_t w = col.physical_type == kFloat || col.physical_type == kInt32 ? 4 : 8;
      MVB_CHECK(col.physical_type == kFloat || col.physical_type == kDouble || col.physical_type == kInt32 ||
                    col.physical_type == kInt64,
                what, ": BYTE_STREAM_SPLIT on an unsupported type");
      c.need(count * w);
      std::string plain(count * w, '\0');
      for (size_t k = 0; k < count; ++k)
        for (size_t b = 0; b < w; ++b) plain[k * w + b] = static_cast<char>(c.p[c.pos + b * count + k]);
      c.pos += count * w;
      Cursor pc{reinterpret_cast<const uint8_t*>(plain.data()), plain.size(), 0, c.what};
      decode_plain(pc, col, count, out);
      return;
    }
    default:
      throw Error(what + ": unsupported Parquet value encoding " + std::to_string(encoding));
  }
}

}  // namespace

std::string ParquetValues::as_string(size_t i) const {
  if (!present[i]) return "";
  if (!bytes.empty()) return bytes[i];
  if (!ints.empty()) return std::to_string(ints[i]);
  if (!doubles.empty()) {
    // The shortest text that reads back to the same double (%g style: 2.5, -3, 1e-05).
    char buf[32];
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, doubles[i]);
      if (std::strtod(buf, nullptr) == doubles[i]) break;
    }
    return buf;
  }
  return "";
}

ParquetFile::ParquetFile(std::string path) : path_(std::move(path)) {
  std::ifstream f(path_, std::ios::binary | std::ios::ate);
  MVB_CHECK(f, "cannot open Parquet file ", path_, ": missing or unreadable");
  file_size_ = static_cast<int64_t>(f.tellg());
  const std::string bad = path_ + ": not a Parquet file or truncated (no PAR1 footer)";
  MVB_CHECK(file_size_ >= 12, bad);
  const std::string tail = read_range(path_, file_size_ - 8, 8);
  MVB_CHECK(tail.compare(4, 4, "PAR1") == 0, bad);
  uint32_t footer_len;
  std::memcpy(&footer_len, tail.data(), 4);
  MVB_CHECK(footer_len <= static_cast<uint64_t>(file_size_ - 12), bad);
  MVB_CHECK(read_range(path_, 0, 4) == "PAR1", path_, ": not a Parquet file (no PAR1 header)");
  const std::string footer = read_range(path_, file_size_ - 8 - footer_len, footer_len);
  size_t pos = 0;
  const thrift::Value meta =
      thrift::read_struct(reinterpret_cast<const uint8_t*>(footer.data()), footer.size(), &pos, path_);
  num_rows_ = meta.int_field(3, 0);

  // Schema: a depth-first list; element 0 is the root. Leaves become columns.
  const thrift::Value* schema = meta.field(2);
  MVB_CHECK(schema && !schema->list.empty(), path_, ": Parquet footer has no schema");
  size_t next = 1;
  std::function<void(const std::string&, int, int, int64_t)> walk = [&](const std::string& prefix, int def, int rep,
                                                                        int64_t children) {
    for (int64_t k = 0; k < children; ++k) {
      MVB_CHECK(next < schema->list.size(), path_, ": corrupt Parquet schema");
      const thrift::Value& el = schema->list[next++];
      const std::string name = prefix.empty() ? el.str_field(4) : prefix + "." + el.str_field(4);
      const int64_t repetition = el.int_field(3, 0);
      const int d = def + (repetition != 0 ? 1 : 0);
      const int r = rep + (repetition == 2 ? 1 : 0);
      const int64_t nchild = el.int_field(5, 0);
      if (nchild > 0) {
        walk(name, d, r, nchild);
      } else {
        ParquetColumn c;
        c.path = name;
        c.physical_type = static_cast<int>(el.int_field(1, 0));
        c.type_length = static_cast<int>(el.int_field(2, 0));
        c.max_def = d;
        c.max_rep = r;
        columns_.push_back(c);
      }
    }
  };
  walk("", 0, 0, schema->list[0].int_field(5, 0));

  if (const thrift::Value* rgs = meta.field(4)) {
    for (const auto& rg : rgs->list) {
      RowGroup g;
      g.num_rows = rg.int_field(3, 0);
      const thrift::Value* cols = rg.field(1);
      MVB_CHECK(cols && cols->list.size() == columns_.size(), path_, ": row group has ", cols ? cols->list.size() : 0,
                " column chunks, schema has ", columns_.size());
      for (const auto& cc : cols->list) {
        MVB_CHECK(cc.str_field(1).empty(), path_, ": column chunks in external files are not supported");
        const thrift::Value* md = cc.field(3);
        MVB_CHECK(md, path_, ": column chunk without metadata");
        Chunk ch;
        ch.codec = static_cast<int>(md->int_field(4, 0));
        ch.num_values = md->int_field(5, 0);
        if (const thrift::Value* enc = md->field(2))
          for (const auto& v : enc->list) ch.encodings.push_back(static_cast<int>(v.i));
        ch.size = md->int_field(7, 0);
        const int64_t data_off = md->int_field(9, 0);
        const int64_t dict_off = md->int_field(11, 0);
        ch.start = dict_off > 0 && dict_off < data_off ? dict_off : data_off;
        MVB_CHECK(ch.start >= 4 && ch.size >= 0 && ch.start + ch.size <= file_size_ - 8, path_,
                  ": column chunk lies outside the file (truncated or corrupt)");
        g.chunks.push_back(ch);
      }
      row_groups_.push_back(std::move(g));
    }
  }
}

int ParquetFile::column_index(const std::string& dotted) const {
  for (size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i].path == dotted) return static_cast<int>(i);
  return -1;
}

int ParquetFile::require_column(const std::string& dotted) const {
  const int c = column_index(dotted);
  if (c < 0) {
    std::vector<std::string> names;
    for (const auto& col : columns_) names.push_back(col.path);
    throw Error(path_ + ": no column '" + dotted + "' (columns present: " + join(names, ", ") + ")");
  }
  return c;
}

ParquetValues ParquetFile::read(int rg, int column) const {
  const ParquetColumn& col = columns_.at(column);
  const Chunk& ch = row_groups_.at(rg).chunks.at(column);
  const std::string what = path_ + " (column " + col.path + ", row group " + std::to_string(rg) + ")";
  MVB_CHECK(col.max_rep == 0, what, ": repeated (list) columns are not supported");
  const std::string chunk = read_range(path_, ch.start, ch.size);
  const auto* base = reinterpret_cast<const uint8_t*>(chunk.data());

  ParquetValues out;
  PageValues dict;
  bool have_dict = false;
  PageValues vals;
  std::vector<uint32_t> defs;
  size_t pos = 0;
  int64_t levels_read = 0;
  const int def_width = bit_width(col.max_def);
  while (levels_read < ch.num_values && pos < chunk.size()) {
    const thrift::Value ph = thrift::read_struct(base, chunk.size(), &pos, what);
    const int64_t type = ph.int_field(1, -1);
    const int64_t uncompressed = ph.int_field(2, 0);
    const int64_t compressed = ph.int_field(3, 0);
    MVB_CHECK(compressed >= 0 && uncompressed >= 0 && pos + compressed <= chunk.size(), what,
              ": page extends past the column chunk (truncated or corrupt file)");
    const std::string page(chunk.data() + pos, compressed);
    pos += compressed;
    if (type == 2) {  // dictionary page
      const thrift::Value* dh = ph.field(7);
      MVB_CHECK(dh, what, ": dictionary page without header");
      const std::string data = decompress(ch.codec, page, uncompressed, what);
      Cursor c{reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0, &what};
      dict = PageValues();
      decode_plain(c, col, static_cast<size_t>(dh->int_field(1, 0)), dict);
      have_dict = true;
      continue;
    }
    if (type != 0 && type != 3) continue;  // index pages carry no values
    int64_t num_values = 0;
    int encoding = 0;
    std::string data;
    Cursor c{nullptr, 0, 0, &what};
    defs.clear();
    if (type == 0) {
      const thrift::Value* dh = ph.field(5);
      MVB_CHECK(dh, what, ": data page without header");
      num_values = dh->int_field(1, 0);
      MVB_CHECK(num_values >= 0 && num_values <= ch.num_values - levels_read, what, ": a page declares ", num_values,
                " values, more than its column chunk has left (corrupt file)");
      encoding = static_cast<int>(dh->int_field(2, 0));
      data = decompress(ch.codec, page, uncompressed, what);
      c = Cursor{reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0, &what};
      if (col.max_def > 0) {
        MVB_CHECK(dh->int_field(3, kRle) == kRle, what, ": BIT_PACKED definition levels are not supported");
        const uint32_t len = c.u32();
        c.need(len);
        Cursor lc{c.p + c.pos, len, 0, &what};
        decode_hybrid(lc, def_width, static_cast<size_t>(num_values), defs);
        c.pos += len;
      }
    } else {
      const thrift::Value* dh = ph.field(8);
      MVB_CHECK(dh, what, ": data page v2 without header");
      num_values = dh->int_field(1, 0);
      MVB_CHECK(num_values >= 0 && num_values <= ch.num_values - levels_read, what, ": a page declares ", num_values,
                " values, more than its column chunk has left (corrupt file)");
      encoding = static_cast<int>(dh->int_field(4, 0));
      const int64_t def_len = dh->int_field(5, 0), rep_len = dh->int_field(6, 0);
      const bool is_compressed = dh->int_field(7, 1) != 0;
      MVB_CHECK(def_len >= 0 && rep_len >= 0 && def_len + rep_len <= compressed, what, ": corrupt data page v2");
      if (col.max_def > 0) {
        Cursor lc{reinterpret_cast<const uint8_t*>(page.data()) + rep_len, static_cast<size_t>(def_len), 0, &what};
        decode_hybrid(lc, def_width, static_cast<size_t>(num_values), defs);
      }
      const std::string body = page.substr(def_len + rep_len);
      data = is_compressed ? decompress(ch.codec, body, uncompressed - def_len - rep_len, what) : body;
      c = Cursor{reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0, &what};
    }
    size_t non_null = static_cast<size_t>(num_values);
    if (col.max_def > 0) {
      non_null = 0;
      for (uint32_t d : defs) non_null += d == static_cast<uint32_t>(col.max_def);
    }
    vals = PageValues();
    decode_values(c, encoding, col, non_null, have_dict ? &dict : nullptr, vals);
    // Spread the non-null values over the rows. Found by fuzzing: a page whose levels or values fall
    // short of its header's count was read past the end (a dictionary of another type, too few levels).
    const bool as_bytes = !vals.bytes.empty() || col.physical_type == kByteArray || col.physical_type == kFixed ||
                          col.physical_type == kInt96;
    const bool as_doubles = !as_bytes && (col.physical_type == kFloat || col.physical_type == kDouble);
    const size_t decoded = as_bytes ? vals.bytes.size() : as_doubles ? vals.doubles.size() : vals.ints.size();
    MVB_CHECK(
        num_values >= 0 && (col.max_def == 0 || defs.size() >= static_cast<size_t>(num_values)) && decoded >= non_null,
        what, ": a page declares ", num_values, " values but holds ", defs.size(), " levels and ", decoded,
        " values (corrupt file)");
    size_t vi = 0;
    for (int64_t k = 0; k < num_values; ++k) {
      const bool present = col.max_def == 0 || defs[k] == static_cast<uint32_t>(col.max_def);
      out.present.push_back(present);
      if (as_bytes)
        out.bytes.push_back(present ? std::move(vals.bytes[vi]) : std::string());
      else if (as_doubles)
        out.doubles.push_back(present ? vals.doubles[vi] : 0.0);
      else
        out.ints.push_back(present ? vals.ints[vi] : 0);
      vi += present;
    }
    levels_read += num_values;
  }
  MVB_CHECK(levels_read == ch.num_values, what, ": column chunk ended after ", levels_read, " of ", ch.num_values,
            " values (truncated or corrupt file)");
  return out;
}

ParquetValues ParquetFile::read_all(int column) const {
  ParquetValues all;
  for (int rg = 0; rg < num_row_groups(); ++rg) {
    ParquetValues v = read(rg, column);
    all.present.insert(all.present.end(), v.present.begin(), v.present.end());
    all.bytes.insert(all.bytes.end(), std::make_move_iterator(v.bytes.begin()), std::make_move_iterator(v.bytes.end()));
    all.ints.insert(all.ints.end(), v.ints.begin(), v.ints.end());
    all.doubles.insert(all.doubles.end(), v.doubles.begin(), v.doubles.end());
  }
  return all;
}

}  // namespace mvb::io
