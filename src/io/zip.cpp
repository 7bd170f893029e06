#include "medvlmbench/io/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include "medvlmbench/core/error.h"

namespace mvb::io {
namespace {

uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const unsigned char* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

std::string read_at(const std::string& path, uint64_t offset, uint64_t size) {
  std::ifstream f(path, std::ios::binary);
  MVB_CHECK(f, "cannot open ", path);
  std::string out(size, '\0');
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(out.data(), static_cast<std::streamsize>(size));
  MVB_CHECK(static_cast<uint64_t>(f.gcount()) == size, path, ": truncated ZIP archive (wanted ", size,
            " bytes at offset ", offset, ")");
  return out;
}

constexpr uint32_t kEocdSig = 0x06054b50, kZip64LocatorSig = 0x07064b50, kZip64EocdSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50, kLocalSig = 0x04034b50;

}  // namespace

ZipReader::ZipReader(std::string path) : path_(std::move(path)) {
  std::ifstream f(path_, std::ios::binary | std::ios::ate);
  MVB_CHECK(f, "cannot open ", path_, ": file missing or unreadable");
  file_size_ = static_cast<uint64_t>(f.tellg());
  const std::string bad = path_ + ": not a ZIP/npz archive or truncated (no end-of-central-directory record)";
  MVB_CHECK(file_size_ >= 22, bad);
  // The end record sits in the last 22 + 65535 (max comment) bytes.
  const uint64_t tail_size = std::min<uint64_t>(file_size_, 22 + 65535);
  const std::string tail = read_at(path_, file_size_ - tail_size, tail_size);
  const auto* t = reinterpret_cast<const unsigned char*>(tail.data());
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(tail_size) - 22; i >= 0; --i)
    if (le32(t + i) == kEocdSig) {
      eocd = i;
      break;
    }
  MVB_CHECK(eocd >= 0, bad);
  uint64_t count = le16(t + eocd + 10);
  uint64_t cd_size = le32(t + eocd + 12);
  uint64_t cd_offset = le32(t + eocd + 16);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
    // ZIP64: a locator just before the end record points at the ZIP64 end record.
    MVB_CHECK(eocd >= 20 && le32(t + eocd - 20) == kZip64LocatorSig, path_, ": ZIP64 archive without a locator");
    const uint64_t z64_offset = le64(t + eocd - 20 + 8);
    MVB_CHECK(z64_offset + 56 <= file_size_, bad);
    const std::string rec = read_at(path_, z64_offset, 56);
    const auto* r = reinterpret_cast<const unsigned char*>(rec.data());
    MVB_CHECK(le32(r) == kZip64EocdSig, path_, ": corrupt ZIP64 end record");
    count = le64(r + 32);
    cd_size = le64(r + 40);
    cd_offset = le64(r + 48);
  }
  MVB_CHECK(cd_offset + cd_size <= file_size_, bad);
  const std::string cd = read_at(path_, cd_offset, cd_size);
  const auto* p = reinterpret_cast<const unsigned char*>(cd.data());
  uint64_t pos = 0;
  entries_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    MVB_CHECK(pos + 46 <= cd_size && le32(p + pos) == kCentralSig, path_, ": corrupt ZIP central directory (entry ", i,
              ")");
    const unsigned char* h = p + pos;
    ZipEntry e;
    e.method = le16(h + 10);
    e.crc32 = le32(h + 16);
    e.compressed_size = le32(h + 20);
    e.uncompressed_size = le32(h + 24);
    const uint16_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    e.local_header_offset = le32(h + 42);
    MVB_CHECK(pos + 46 + name_len + extra_len + comment_len <= cd_size, path_, ": corrupt ZIP central directory");
    e.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // ZIP64 extra field: only the values that overflowed 32 bits are present, in this order.
    const unsigned char* x = h + 46 + name_len;
    for (uint32_t off = 0; off + 4 <= extra_len;) {
      const uint16_t id = le16(x + off), len = le16(x + off + 2);
      if (id == 0x0001) {
        const unsigned char* v = x + off + 4;
        uint32_t used = 0;
        if (e.uncompressed_size == 0xFFFFFFFFu && used + 8 <= len) e.uncompressed_size = le64(v + used), used += 8;
        if (e.compressed_size == 0xFFFFFFFFu && used + 8 <= len) e.compressed_size = le64(v + used), used += 8;
        if (e.local_header_offset == 0xFFFFFFFFu && used + 8 <= len) e.local_header_offset = le64(v + used);
      }
      off += 4 + len;
    }
    pos += 46 + name_len + extra_len + comment_len;
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

uint64_t ZipReader::data_offset(const ZipEntry& e) const {
  MVB_CHECK(e.local_header_offset + 30 <= file_size_, path_, ": truncated ZIP archive (member ", e.name, ")");
  const std::string h = read_at(path_, e.local_header_offset, 30);
  const auto* p = reinterpret_cast<const unsigned char*>(h.data());
  MVB_CHECK(le32(p) == kLocalSig, path_, ": corrupt ZIP local header for ", e.name);
  return e.local_header_offset + 30 + le16(p + 26) + le16(p + 28);
}

std::string ZipReader::read(const ZipEntry& e) const {
  const uint64_t off = data_offset(e);
  MVB_CHECK(off + e.compressed_size <= file_size_, path_, ": truncated ZIP archive (member ", e.name, " needs ",
            e.compressed_size, " bytes at offset ", off, ", file has ", file_size_, ")");
  std::string raw = read_at(path_, off, e.compressed_size);
  std::string out;
  if (e.method == 0) {
    out = std::move(raw);
  } else if (e.method == 8) {
    // The output is sized from the declared size before inflating, so bound it by what deflate can
    // produce: at most 1032 output bytes per input byte (zlib's documented limit; a few bytes of
    // slack for tiny streams). A corrupt header declaring gigabytes from a few bytes (found by
    // fuzzing: 4 GB from 115 bytes) is refused instead of allocated.
    MVB_CHECK(e.uncompressed_size / 1032 <= e.compressed_size + 1, path_, ": corrupt ZIP archive: member ", e.name,
              " declares ", e.uncompressed_size, " bytes uncompressed from ", e.compressed_size,
              " compressed, more than deflate can produce");
    out.resize(e.uncompressed_size);
    z_stream zs{};
    MVB_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "zlib init failed");
    // zlib counts in uInt; feed large members in chunks.
    uint64_t in_pos = 0, out_pos = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
      const uint64_t in_chunk = std::min<uint64_t>(raw.size() - in_pos, std::numeric_limits<uInt>::max());
      const uint64_t out_chunk = std::min<uint64_t>(out.size() - out_pos, std::numeric_limits<uInt>::max());
      zs.next_in = reinterpret_cast<Bytef*>(raw.data() + in_pos);
      zs.avail_in = static_cast<uInt>(in_chunk);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
      zs.avail_out = static_cast<uInt>(out_chunk);
      rc = inflate(&zs, Z_NO_FLUSH);
      in_pos += in_chunk - zs.avail_in;
      out_pos += out_chunk - zs.avail_out;
      if (rc == Z_OK && in_chunk == 0 && out_chunk == 0) break;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
    }
    inflateEnd(&zs);
    MVB_CHECK(rc == Z_STREAM_END && out_pos == out.size(), path_, ": corrupt or truncated deflate data in ", e.name);
  } else {
    throw Error(path_ + ": member " + e.name + " uses unsupported compression method " + std::to_string(e.method) +
                " (only stored and deflate are supported)");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t pos = 0; pos < out.size();) {
    const size_t n = std::min<size_t>(out.size() - pos, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + pos), static_cast<uInt>(n));
    pos += n;
  }
  MVB_CHECK(static_cast<uint32_t>(crc) == e.crc32, path_, ": CRC mismatch in ", e.name, " (corrupt archive)");
  return out;
}

std::string ZipReader::read(const std::string& name) const {
  const ZipEntry* e = find(name);
  MVB_CHECK(e, path_, ": no member '", name, "' in the archive");
  return read(*e);
}

}  // namespace mvb::io
