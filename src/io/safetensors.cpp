#include "medvlmbench/io/safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::io {
namespace {

bool parse_dtype(const std::string& s, at::ScalarType* out) {
  static const std::pair<const char*, at::ScalarType> kTable[] = {
      {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"F64", at::kDouble}, {"I64", at::kLong},
      {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},       {"U8", at::kByte},    {"BOOL", at::kBool}};
  for (const auto& [name, t] : kTable)
    if (s == name) {
      *out = t;
      return true;
    }
  return false;
}

// a * b with overflow detection (shapes come from an untrusted header).
bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

struct Header {
  nlohmann::json json;
  uint64_t data_start = 0;
};

Header read_header(const MappedFile& f) {
  const std::string& p = f.path();
  MVB_CHECK(f.size() >= 8, "not a safetensors file: ", p, " is ", f.size(),
            " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, f.data(), 8);  // little-endian on every supported host
  MVB_CHECK(n <= kMaxSafetensorsHeader, "corrupt safetensors file ", p, ": header length ", n, " exceeds the ",
            kMaxSafetensorsHeader, "-byte limit");
  MVB_CHECK(n <= f.size() - 8, "truncated safetensors file ", p, ": header claims ", n, " bytes but only ",
            f.size() - 8, " follow");
  MVB_CHECK(n >= 2 && f.data()[8] == '{', "corrupt safetensors file ", p, ": header is not a JSON object");
  Header h;
  h.data_start = 8 + n;
  try {
    h.json = nlohmann::json::parse(f.data() + 8, f.data() + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    throw Error("corrupt safetensors file " + p + ": header is not valid JSON (" + e.what() + ")");
  }
  MVB_CHECK(h.json.is_object(), "corrupt safetensors file ", p, ": header is not a JSON object");
  return h;
}

}  // namespace

StateDict open_safetensors(const std::string& path) {
  auto file = MappedFile::open(path);
  const Header h = read_header(*file);
  const uint64_t data_size = file->size() - h.data_start;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  std::vector<std::pair<std::string, TensorRecord>> recs;
  for (const auto& [name, info] : h.json.items()) {
    if (name == "__metadata__") {
      MVB_CHECK(info.is_object(), "corrupt safetensors file ", path, ": __metadata__ is not an object");
      for (const auto& [k, v] : info.items())
        MVB_CHECK(v.is_string(), "corrupt safetensors file ", path, ": __metadata__ value '", k, "' is not a string");
      continue;
    }
    const std::string where = "tensor '" + name + "' in safetensors file " + path;
    MVB_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
              "corrupt ", where, ": entry needs dtype, shape and data_offsets");
    MVB_CHECK(info["dtype"].is_string(), "corrupt ", where, ": dtype is not a string");
    const std::string dt = info["dtype"].get<std::string>();
    TensorRecord r;
    if (!parse_dtype(dt, &r.dtype)) {
      if (starts_with(dt, "F8"))
        throw Error("unsupported dtype " + dt + " for " + where +
                    ": float8 weights are not supported; convert the checkpoint to BF16/F16 first");
      throw Error("unsupported dtype " + dt + " for " + where +
                  " (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
    }
    const auto& shape = info["shape"];
    MVB_CHECK(shape.is_array() && shape.size() <= 64, "corrupt ", where, ": shape is not a list of dimensions");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      MVB_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), "corrupt ", where,
                ": shape ", shape.dump(), " has a negative or non-integer dimension");
      const uint64_t v = d.get<uint64_t>();
      MVB_CHECK(!mul_overflows(numel, v, &numel) && numel <= (uint64_t{1} << 62), "corrupt ", where, ": shape ",
                shape.dump(), " is absurdly large");
      r.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = info["data_offsets"];
    MVB_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
              "corrupt ", where, ": data_offsets must be two non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    MVB_CHECK(begin <= end, "corrupt ", where, ": data_offsets [", begin, ", ", end, "] are reversed");
    MVB_CHECK(end <= data_size, "truncated or corrupt ", where, ": data_offsets end ", end,
              " lies beyond the data section (", data_size, " bytes)");
    uint64_t nbytes = 0;
    MVB_CHECK(!mul_overflows(numel, c10::elementSize(r.dtype), &nbytes) && nbytes == end - begin, "corrupt ", where,
              ": shape ", shape.dump(), " of ", dt, " needs ", nbytes, " bytes but data_offsets span ", end - begin);
    r.file = file;
    r.offset = h.data_start + begin;
    r.bytes = nbytes;
    spans.push_back({begin, end, name});
    recs.emplace_back(name, std::move(r));
  }
  // The data section must be covered exactly: overlaps would alias tensors, holes could hide a
  // second file format (both refused by the reference implementation).
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t expected = 0;
  for (const auto& s : spans) {
    MVB_CHECK(s.begin >= expected, "corrupt safetensors file ", path, ": tensor '", s.name,
              "' overlaps the previous tensor's data");
    MVB_CHECK(s.begin == expected, "corrupt safetensors file ", path, ": unindexed gap of ", s.begin - expected,
              " bytes before tensor '", s.name, "'");
    expected = s.end;
  }
  MVB_CHECK(expected == data_size, "corrupt safetensors file ", path, ": ", data_size - expected,
            " trailing bytes after the last tensor");
  // Keep the file's tensor order by data offset (how writers lay them out), not JSON key order.
  std::sort(recs.begin(), recs.end(), [](const auto& a, const auto& b) { return a.second.offset < b.second.offset; });
  StateDict sd;
  sd.set_source(path);
  for (auto& [n, r] : recs) sd.add(n, std::move(r));
  return sd;
}

std::map<std::string, std::string> safetensors_metadata(const std::string& path) {
  auto file = MappedFile::open(path);
  const Header h = read_header(*file);
  std::map<std::string, std::string> out;
  if (h.json.contains("__metadata__") && h.json["__metadata__"].is_object())
    for (const auto& [k, v] : h.json["__metadata__"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, at::Tensor>> sorted;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    MVB_CHECK(seen.insert(name).second, "cannot write ", path, ": duplicate tensor name '", name, "'");
    MVB_CHECK(name != "__metadata__", "cannot write ", path, ": '__metadata__' is reserved");
    MVB_CHECK(t.defined(), "cannot write ", path, ": tensor '", name, "' is undefined");
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    at::ScalarType dummy;
    MVB_CHECK(parse_dtype(dtype_name(c.scalar_type()), &dummy), "cannot write ", path, ": tensor '", name,
              "' has dtype ", c.scalar_type(), ", which safetensors cannot store");
    sorted.emplace_back(name, c);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& [name, t] : sorted) {
    const uint64_t n = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {
        {"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string h = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned (allowed by the format).
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + off);
  const uint64_t hl = h.size();
  out.append(reinterpret_cast<const char*>(&hl), 8);
  out += h;
  for (const auto& [name, t] : sorted)
    out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  write_file_atomic(path, out);
}

StateDict open_sharded_index(const std::string& index_path) {
  const nlohmann::json idx = read_json(index_path);
  MVB_CHECK(idx.is_object() && idx.contains("weight_map") && idx["weight_map"].is_object(), "corrupt index ",
            index_path, ": no \"weight_map\" object");
  const std::string dir =
      index_path.substr(0, index_path.find_last_of('/') == std::string::npos ? 0 : index_path.find_last_of('/'));
  std::vector<std::string> shards;
  for (const auto& [name, f] : idx["weight_map"].items()) {
    MVB_CHECK(f.is_string(), "corrupt index ", index_path, ": shard of '", name, "' is not a file name");
    const std::string s = f.get<std::string>();
    MVB_CHECK(s.find('/') == std::string::npos && s != ".." && !s.empty(), "corrupt index ", index_path,
              ": shard name '", s, "' must be a file in the same folder");
    if (std::find(shards.begin(), shards.end(), s) == shards.end()) shards.push_back(s);
  }
  std::sort(shards.begin(), shards.end());
  StateDict all;
  all.set_source(index_path);
  for (const auto& s : shards) {
    const std::string p = dir.empty() ? s : join_path(dir, s);
    MVB_CHECK(exists(p), "missing shard ", p, " named by ", index_path, "; download every shard of the checkpoint");
    StateDict shard = ends_with(s, ".safetensors") ? open_safetensors(p) : StateDict::open(p);
    all.merge(shard);
  }
  for (const auto& [name, f] : idx["weight_map"].items())
    MVB_CHECK(all.contains(name), "tensor '", name, "' is listed in ", index_path, " but missing from its shard ",
              f.get<std::string>());
  return all;
}

}  // namespace mvb::io
