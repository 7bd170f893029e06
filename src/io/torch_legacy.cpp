// The legacy torch.save stream. Where each storage's bytes lie is only known after the object pickle
// and the key list behind it, so the object is unpickled twice: once to learn which storages it
// references (and where it ends), then again with every storage resolved to its byte range in the
// mapping. The pickle is small next to the weights, and of the weights only the 8-byte element count
// in front of each storage is read here.
#include "torch_legacy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/state_dict.h"

namespace mvb::io {
namespace {

using pickle::Value;
using pickle::ValuePtr;
using K = Value::Kind;

// torch.serialization.MAGIC_NUMBER, 0x1950a86a20f9469cfc6c, as pickle's LONG1 writes it (little-endian).
constexpr uint8_t kMagic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kProtocolVersion = 1001;
constexpr int64_t kMaxNumel = int64_t{1} << 60;  // keeps numel * element size inside 64 bits

// Length of the magic-number pickle at the start of `d` (PROTO, FRAME from protocol 4 on, LONG1, STOP);
// 0 when `d` does not start with it. The unpickler proper refuses integers this wide.
size_t magic_pickle_size(const uint8_t* d, size_t n) {
  if (n < 2 || d[0] != 0x80 || d[1] < 2) return 0;
  size_t p = 2;
  if (p < n && d[p] == 0x95) p += 9;
  if (p + 2 + sizeof kMagic + 1 > n || d[p] != 0x8a || d[p + 1] != sizeof kMagic) return 0;
  if (std::memcmp(d + p + 2, kMagic, sizeof kMagic) != 0) return 0;
  p += 2 + sizeof kMagic;
  return d[p] == '.' ? p + 1 : 0;
}

// Python 2 pickles may spell internal strings as bytes; both read the same.
bool is_text(const ValuePtr& v) { return v->kind == K::kStr || v->kind == K::kBytes; }

// One persistent id: ('storage', storage_type, root_key, location, numel, view_metadata), where
// view_metadata is None or (view_key, offset, size) in elements of the root storage (storages could be
// slices of one another before torch 1.0; writers since always save None).
struct StorageRef {
  at::ScalarType dtype = at::kFloat;
  std::string type;
  std::string root_key;
  int64_t root_numel = 0;
  int64_t view_offset = 0;  // elements
  int64_t view_numel = 0;   // elements; the whole root when there is no view
};

StorageRef parse_storage_id(const ValuePtr& pid, const std::string& path) {
  MVB_CHECK(pid->kind == K::kTuple && pid->items.size() == 6 && is_text(pid->items[0]) && pid->items[0]->s == "storage",
            "corrupt checkpoint ", path, ": unexpected persistent id (not a storage reference)");
  const auto& type = pid->items[1];
  const auto& key = pid->items[2];
  const auto& numel = pid->items[4];
  const auto& view = pid->items[5];
  MVB_CHECK(
      type->kind == K::kGlobal && is_text(key) && numel->kind == K::kInt && numel->i >= 0 && numel->i <= kMaxNumel,
      "corrupt checkpoint ", path, ": malformed storage reference");
  StorageRef r;
  r.type = type->s;
  MVB_CHECK(pickle::storage_dtype(r.type.substr(r.type.rfind('.') + 1), &r.dtype), "checkpoint ", path,
            ": unsupported storage type ", r.type);
  r.root_key = key->s;
  r.root_numel = numel->i;
  r.view_numel = numel->i;
  if (view->kind != K::kNone) {
    MVB_CHECK(view->kind == K::kTuple && view->items.size() == 3 && is_text(view->items[0]) &&
                  view->items[1]->kind == K::kInt && view->items[2]->kind == K::kInt,
              "corrupt checkpoint ", path, ": malformed storage view of ", r.root_key);
    r.view_offset = view->items[1]->i;
    r.view_numel = view->items[2]->i;
    MVB_CHECK(r.view_offset >= 0 && r.view_numel >= 0 && r.view_offset <= r.root_numel &&
                  r.view_numel <= r.root_numel - r.view_offset,
              "corrupt checkpoint ", path, ": storage view [", r.view_offset, ", +", r.view_numel,
              ") lies outside storage ", r.root_key, " of ", r.root_numel, " elements");
  }
  return r;
}

// A root storage and, once the data section was read, where its bytes start in the file.
struct RootStorage {
  at::ScalarType dtype;
  std::string type;
  int64_t numel;
  uint64_t offset = 0;
  bool located = false;
};

int64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<int64_t>(v);
}

}  // namespace

bool starts_like_legacy_checkpoint(const std::string& head) {
  return magic_pickle_size(reinterpret_cast<const uint8_t*>(head.data()), head.size()) != 0;
}

ValuePtr unpickle_legacy_checkpoint(const std::string& path) {
  const std::shared_ptr<MappedFile> file = MappedFile::open(path);
  const uint8_t* data = file->data();
  const uint64_t size = file->size();
  const std::string where = "checkpoint " + path;
  uint64_t pos = magic_pickle_size(data, size);
  MVB_CHECK(pos > 0, "not a legacy torch.save checkpoint: ", path, " does not start with torch's magic number");

  const pickle::PersistentLoader no_storages = [&](const ValuePtr&) -> ValuePtr {
    throw Error("corrupt checkpoint " + path + ": a storage reference in the file header");
  };
  // Unpickles the next pickle of the stream and moves past it.
  auto next = [&](const pickle::PersistentLoader& storages) {
    size_t used = 0;
    ValuePtr v = pickle::unpickle(data + pos, size - pos, storages, where, &used);
    pos += used;
    return v;
  };

  const ValuePtr version = next(no_storages);
  MVB_CHECK(version->kind == K::kInt && version->i == kProtocolVersion, "checkpoint ", path,
            " has legacy torch.save protocol version ", version->kind == K::kInt ? std::to_string(version->i) : "?",
            ", expected ", kProtocolVersion, " (corrupt or from an unknown torch)");
  const ValuePtr sys_info = next(no_storages);
  if (sys_info->kind == K::kDict)
    for (const auto& [k, v] : sys_info->entries)
      MVB_CHECK(!(is_text(k) && k->s == "little_endian" && v->kind == K::kBool && !v->b), "checkpoint ", path,
                " was written on a big-endian machine, which is not supported; re-save it on a little-endian one");

  // Pass 1: which root storages the object references, and where its pickle ends.
  const uint64_t object_begin = pos;
  std::map<std::string, RootStorage> roots;
  const pickle::PersistentLoader survey = [&](const ValuePtr& pid) {
    const StorageRef r = parse_storage_id(pid, path);
    auto [it, fresh] = roots.try_emplace(r.root_key, RootStorage{r.dtype, r.type, r.root_numel});
    MVB_CHECK(fresh || (it->second.dtype == r.dtype && it->second.numel == r.root_numel), "corrupt checkpoint ", path,
              ": storage ", r.root_key, " is referenced both as ", it->second.type, "(", it->second.numel, ") and as ",
              r.type, "(", r.root_numel, ")");
    auto s = Value::make(K::kStorage);
    s->tensor.dtype = r.dtype;
    return s;
  };
  next(survey);
  const uint64_t object_end = pos;

  // The key list, then each storage as an int64 element count and its raw bytes, in that order.
  const ValuePtr keys = next(no_storages);
  MVB_CHECK(keys->kind == K::kList, "corrupt checkpoint ", path, ": the storage key list is a ", keys->repr_kind());
  for (const auto& key : keys->items) {
    MVB_CHECK(is_text(key), "corrupt checkpoint ", path, ": a storage key is a ", key->repr_kind());
    auto it = roots.find(key->s);
    MVB_CHECK(it != roots.end(), "corrupt checkpoint ", path, ": data for storage ", key->s,
              ", which no tensor references");
    RootStorage& root = it->second;
    MVB_CHECK(!root.located, "corrupt checkpoint ", path, ": storage ", key->s, " is listed twice");
    MVB_CHECK(size - pos >= 8, "truncated checkpoint ", path, ": it ends before the data of storage ", key->s);
    const int64_t count = read_le64(data + pos);
    MVB_CHECK(count == root.numel, "corrupt checkpoint ", path, ": storage ", key->s, " holds ", count,
              " elements but the tensors expect ", root.numel);
    const uint64_t bytes = static_cast<uint64_t>(root.numel) * c10::elementSize(root.dtype);
    pos += 8;
    MVB_CHECK(bytes <= size - pos, "truncated checkpoint ", path, ": storage ", key->s, " (", bytes,
              " bytes) reaches past the end of the file");
    root.offset = pos;
    root.located = true;
    pos += bytes;
  }
  for (const auto& [key, root] : roots)
    MVB_CHECK(root.located, "corrupt checkpoint ", path, ": storage ", key, " has no data (missing from the key list)");

  // Pass 2: the same object pickle, every storage now a byte range of the mapping.
  const pickle::PersistentLoader resolve = [&](const ValuePtr& pid) {
    const StorageRef r = parse_storage_id(pid, path);
    const RootStorage& root = roots.at(r.root_key);
    const uint64_t elem = c10::elementSize(root.dtype);
    auto s = Value::make(K::kStorage);
    s->tensor.dtype = root.dtype;
    s->tensor.file = file;
    s->tensor.offset = root.offset + static_cast<uint64_t>(r.view_offset) * elem;
    s->tensor.bytes = static_cast<uint64_t>(r.view_numel) * elem;
    s->tensor.storage_key = r.root_key;
    return s;
  };
  pos = object_begin;
  ValuePtr object = next(resolve);
  MVB_CHECK(pos == object_end, "corrupt checkpoint ", path, ": its object pickle reads differently twice");
  return object;
}

}  // namespace mvb::io
