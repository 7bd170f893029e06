#include "medvlmbench/io/parquet_thrift.h"

#include <cstring>

#include "medvlmbench/core/error.h"

namespace mvb::io::thrift {
namespace {

class Decoder {
 public:
  Decoder(const uint8_t* d, size_t n, size_t pos, const std::string& what) : d_(d), n_(n), pos_(pos), what_(what) {}

  uint8_t byte() {
    MVB_CHECK(pos_ < n_, what_, ": truncated Parquet metadata (thrift)");
    return d_[pos_++];
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error(what_ + ": malformed Parquet metadata (varint too long)");
  }
  int64_t zigzag() {
    const uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }

  Value value(int type, int depth) {
    MVB_CHECK(depth < 64, what_, ": malformed Parquet metadata (nesting too deep)");
    Value v;
    v.type = type;
    switch (type) {
      case 1:
      case 2:
        v.i = type == 1;
        break;
      case 3:
        v.i = static_cast<int8_t>(byte());
        break;
      case 4:
      case 5:
      case 6:
        v.i = zigzag();
        break;
      case 7: {
        MVB_CHECK(pos_ + 8 <= n_, what_, ": truncated Parquet metadata (thrift)");
        std::memcpy(&v.d, d_ + pos_, 8);
        pos_ += 8;
        break;
      }
      case 8: {
        const uint64_t len = varint();
        MVB_CHECK(len <= n_ - pos_, what_, ": truncated Parquet metadata (thrift string)");
        v.s.assign(reinterpret_cast<const char*>(d_ + pos_), len);
        pos_ += len;
        break;
      }
      case 9:
      case 10: {
        const uint8_t h = byte();
        uint64_t size = h >> 4;
        if (size == 15) size = varint();
        const int elem = h & 0x0F;
        MVB_CHECK(size <= n_ - pos_ + 1, what_, ": malformed Parquet metadata (list size)");
        v.list.reserve(size);
        for (uint64_t k = 0; k < size; ++k) {
          // Booleans inside containers take one byte each (1 true, 2 or 0 false).
          if (elem == 1 || elem == 2) {
            Value b;
            b.type = 1;
            b.i = byte() == 1;
            v.list.push_back(std::move(b));
          } else {
            v.list.push_back(value(elem, depth + 1));
          }
        }
        break;
      }
      case 11: {
        const uint64_t size = varint();
        if (size == 0) break;
        const uint8_t kv = byte();
        // Every entry takes at least a byte (booleans in containers are one byte each, as in lists):
        // without these two rules a corrupt size made this loop push entries read from no bytes until
        // memory ran out (found by fuzz/parquet_fuzz.cpp).
        MVB_CHECK(size <= n_ - pos_, what_, ": malformed Parquet metadata (map size)");
        auto entry = [&](int type) {
          if (type != 1 && type != 2) return value(type, depth + 1);
          Value b;
          b.type = 1;
          b.i = byte() == 1;
          return b;
        };
        for (uint64_t k = 0; k < size; ++k) {
          v.list.push_back(entry(kv >> 4));
          v.list.push_back(entry(kv & 0x0F));
        }
        break;
      }
      case 12:
        fields(v, depth + 1);
        break;
      default:
        throw Error(what_ + ": malformed Parquet metadata (unknown thrift type " + std::to_string(type) + ")");
    }
    return v;
  }

  void fields(Value& v, int depth) {
    v.type = 12;
    int16_t last = 0;
    for (;;) {
      const uint8_t h = byte();
      if (h == 0) return;
      const int type = h & 0x0F;
      const int delta = h >> 4;
      const int16_t id = delta ? static_cast<int16_t>(last + delta) : static_cast<int16_t>(zigzag());
      last = id;
      v.fields[id] = value(type, depth);
    }
  }

  size_t pos() const { return pos_; }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_;
  const std::string& what_;
};

}  // namespace

const Value* Value::field(int16_t id) const {
  auto it = fields.find(id);
  return it == fields.end() ? nullptr : &it->second;
}

int64_t Value::int_field(int16_t id, int64_t fallback) const {
  const Value* f = field(id);
  return f ? f->i : fallback;
}

const std::string& Value::str_field(int16_t id) const {
  static const std::string empty;
  const Value* f = field(id);
  return f ? f->s : empty;
}

Value read_struct(const uint8_t* data, size_t size, size_t* pos, const std::string& what) {
  Decoder d(data, size, *pos, what);
  Value v;
  d.fields(v, 0);
  *pos = d.pos();
  return v;
}

}  // namespace mvb::io::thrift
