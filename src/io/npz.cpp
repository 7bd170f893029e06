#include "medvlmbench/io/npz.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::io {
namespace {

// A whole decimal integer from the header (std::stoi would throw std::invalid_argument or
// std::out_of_range past the reader's error handling on a corrupt header).
int64_t parse_header_int(const std::string& text, const std::string& name, const char* what) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  MVB_CHECK(r.ec == std::errc() && r.ptr == end, name, ": corrupt .npy header (", what, " '", text,
            "' is not an integer)");
  return v;
}

// Value of `key` in the header dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
std::string dict_value(const std::string& header, const std::string& key, const std::string& name) {
  const std::string k = "'" + key + "'";
  size_t p = header.find(k);
  MVB_CHECK(p != std::string::npos, name, ": .npy header has no ", key, " (header: ", header, ")");
  p = header.find(':', p + k.size());
  MVB_CHECK(p != std::string::npos, name, ": malformed .npy header");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  size_t end;
  if (header[p] == '\'') {
    end = header.find('\'', p + 1);
    MVB_CHECK(end != std::string::npos, name, ": malformed .npy header");
    return header.substr(p + 1, end - p - 1);
  }
  if (header[p] == '(') {
    end = header.find(')', p);
    MVB_CHECK(end != std::string::npos, name, ": malformed .npy header");
    return header.substr(p, end - p + 1);
  }
  end = header.find_first_of(",}", p);
  return trim(header.substr(p, end - p));
}

template <class T>
T load_as(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  int exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 1;
      while (!(mant & 0x400)) mant <<= 1, --exp;
      mant &= 0x3FF;
      bits = sign | (static_cast<uint32_t>(exp + 112) << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | (static_cast<uint32_t>(exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string NpyArray::dtype_string() const {
  const char* base = kind == 'b' ? "bool" : kind == 'i' ? "int" : kind == 'u' ? "uint" : "float";
  return kind == 'b' ? std::string(base) : std::string(base) + std::to_string(item_size * 8);
}

double NpyArray::get_double(int64_t i) const {
  const char* p = data.data() + i * item_size;
  switch (kind) {
    case 'b':
      return p[0] ? 1.0 : 0.0;
    case 'u':
      return item_size == 1   ? load_as<uint8_t>(p)
             : item_size == 2 ? load_as<uint16_t>(p)
             : item_size == 4 ? load_as<uint32_t>(p)
                              : static_cast<double>(load_as<uint64_t>(p));
    case 'i':
      return item_size == 1   ? load_as<int8_t>(p)
             : item_size == 2 ? load_as<int16_t>(p)
             : item_size == 4 ? load_as<int32_t>(p)
                              : static_cast<double>(load_as<int64_t>(p));
    default:
      return item_size == 2   ? half_to_float(load_as<uint16_t>(p))
             : item_size == 4 ? load_as<float>(p)
                              : load_as<double>(p);
  }
}

int64_t NpyArray::get_int(int64_t i) const {
  if (kind == 'f') {
    // Converting NaN, infinity or a value beyond int64 is undefined behaviour (found by
    // fuzz/npz_fuzz.cpp); such an element read as an integer is a corrupt label, not a number.
    const double d = get_double(i);
    MVB_CHECK(std::isfinite(d) && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18, "float element ", i, " (",
              d, ") cannot be read as an integer");
    return static_cast<int64_t>(d);
  }
  const char* p = data.data() + i * item_size;
  if (kind == 'u' && item_size == 8) return static_cast<int64_t>(load_as<uint64_t>(p));
  if (kind == 'i' && item_size == 8) return load_as<int64_t>(p);
  return static_cast<int64_t>(get_double(i));
}

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  MVB_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, name,
            ": not a .npy array (bad magic); the file may be truncated or not written by numpy");
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = b[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = b[8] | (b[9] << 8);
    header_start = 10;
  } else {
    MVB_CHECK(bytes.size() >= 12, name, ": truncated .npy header");
    header_len = b[8] | (b[9] << 8) | (b[10] << 16) | (static_cast<size_t>(b[11]) << 24);
    header_start = 12;
  }
  MVB_CHECK(header_start + header_len <= bytes.size(), name, ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);
  const std::string descr = dict_value(header, "descr", name);
  const bool fortran = dict_value(header, "fortran_order", name) == "True";
  const std::string shape_text = dict_value(header, "shape", name);

  NpyArray a;
  MVB_CHECK(descr.size() >= 3, name, ": unsupported dtype '", descr, "'");
  const char order = descr[0];
  a.kind = descr[1];
  MVB_CHECK(a.kind == 'b' || a.kind == 'i' || a.kind == 'u' || a.kind == 'f', name, ": unsupported dtype '", descr,
            "' (only bool, int, uint and float arrays; object/string arrays are not read)");
  a.item_size = parse_header_int(descr.substr(2), name, "dtype size");
  MVB_CHECK(a.item_size == 1 || a.item_size == 2 || a.item_size == 4 || a.item_size == 8, name, ": unsupported dtype '",
            descr, "'");
  MVB_CHECK(!(a.kind == 'f' && a.item_size == 1), name, ": unsupported dtype '", descr, "'");
  // An empty or unbracketed shape made substr throw std::out_of_range (found by fuzz/npz_fuzz.cpp).
  MVB_CHECK(shape_text.size() >= 2 && shape_text.front() == '(' && shape_text.back() == ')', name,
            ": corrupt .npy header (shape '", shape_text, "' is not a tuple)");
  for (const auto& part : split(shape_text.substr(1, shape_text.size() - 2), ',')) {
    const std::string t = trim(part);
    if (t.empty()) continue;
    a.shape.push_back(parse_header_int(t, name, "shape"));
  }
  // The dimensions must multiply to no more than the bytes present, checked without overflowing
  // (a hostile shape like (2**62, 4) would otherwise wrap around and pass the size check).
  uint64_t elems = 1;
  const uint64_t available = bytes.size() - (header_start + header_len);
  for (int64_t d : a.shape) {
    MVB_CHECK(d >= 0, name, ": negative dimension in shape ", shape_text);
    if (d == 0 || elems == 0) {
      elems = 0;
      continue;
    }
    MVB_CHECK(static_cast<uint64_t>(d) <= available / static_cast<uint64_t>(a.item_size) / elems, name,
              ": truncated .npy data (shape ", shape_text, " needs more than the ", available, " bytes present)");
    elems *= static_cast<uint64_t>(d);
  }
  const size_t nbytes = static_cast<size_t>(a.numel()) * a.item_size;
  const size_t data_start = header_start + header_len;
  MVB_CHECK(bytes.size() - data_start >= nbytes, name, ": truncated .npy data (shape ", shape_text, " needs ", nbytes,
            " bytes, found ", bytes.size() - data_start, ")");
  a.data = bytes.substr(data_start, nbytes);
  if (order == '>' && a.item_size > 1) {
    for (size_t i = 0; i < a.data.size(); i += a.item_size)
      std::reverse(a.data.begin() + i, a.data.begin() + i + a.item_size);
  }
  if (fortran && a.shape.size() > 1) {
    // Reorder to C order: element with C index (i0..in) lives at Fortran offset sum(i_k * prod(shape[<k])).
    std::string c(a.data.size(), '\0');
    const size_t nd = a.shape.size();
    std::vector<int64_t> idx(nd, 0);
    for (int64_t flat = 0; flat < a.numel(); ++flat) {
      int64_t f_off = 0, stride = 1;
      for (size_t k = 0; k < nd; ++k) f_off += idx[k] * stride, stride *= a.shape[k];
      std::memcpy(&c[flat * a.item_size], &a.data[f_off * a.item_size], a.item_size);
      for (size_t k = nd; k-- > 0;) {
        if (++idx[k] < a.shape[k]) break;
        idx[k] = 0;
      }
    }
    a.data.swap(c);
  }
  return a;
}

NpyArray read_npy_file(const std::string& path) { return parse_npy(read_file(path), path); }

NpzFile::NpzFile(const std::string& path) : zip_(path) {}

std::vector<std::string> NpzFile::keys() const {
  std::vector<std::string> out;
  for (const auto& e : zip_.entries())
    out.push_back(ends_with(e.name, ".npy") ? e.name.substr(0, e.name.size() - 4) : e.name);
  return out;
}

bool NpzFile::contains(const std::string& key) const { return zip_.find(key + ".npy") != nullptr; }

NpyArray NpzFile::read(const std::string& key) const {
  const ZipEntry* e = zip_.find(key + ".npy");
  MVB_CHECK(e, path(), ": no array '", key, "' (arrays present: ", join(keys(), ", "), ")");
  return parse_npy(zip_.read(*e), path() + ":" + key);
}

}  // namespace mvb::io
