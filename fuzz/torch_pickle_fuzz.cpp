// Fuzz target: the restricted unpickler (io/torch_pickle.h) on arbitrary pickle bytes, in memory.
// Persistent ids resolve like a zip checkpoint's ('storage', type, key, location, numel), onto a
// small mapped scratch file, so the tensor rebuild paths (_rebuild_tensor_v2 and friends, views with
// strides and offsets) are reached as well as the opcode decoder and the refusal of other globals.
#include <c10/core/ScalarType.h>

#include <fstream>
#include <map>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/io/torch_pickle.h"

namespace {
using mvb::io::pickle::Value;
using K = Value::Kind;

// A 4 KiB file every storage lives in (a storage larger than it is refused, as a truncated
// checkpoint is).
std::shared_ptr<mvb::io::MappedFile> storage_file() {
  static std::shared_ptr<mvb::io::MappedFile> f = [] {
    const std::string bytes(4096, '\x3c');
    const std::string path =
        mvb::fuzz::write_scratch("storage.bin", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return mvb::io::MappedFile::open(path);
  }();
  return f;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = storage_file();
  std::map<std::string, mvb::io::pickle::ValuePtr> storages;
  const mvb::io::pickle::PersistentLoader load = [&](const mvb::io::pickle::ValuePtr& pid) {
    MVB_CHECK(pid->kind == K::kTuple && pid->items.size() >= 5 && pid->items[0]->kind == K::kStr &&
                  pid->items[0]->s == "storage",
              "fuzz: not a storage id");
    const auto& type = pid->items[1];
    const auto& key = pid->items[2];
    const auto& numel = pid->items[4];
    MVB_CHECK(type->kind == K::kGlobal && key->kind == K::kStr && numel->kind == K::kInt && numel->i >= 0,
              "fuzz: malformed storage id");
    if (auto it = storages.find(key->s); it != storages.end()) return it->second;
    at::ScalarType dt;
    MVB_CHECK(mvb::io::pickle::storage_dtype(type->s.substr(type->s.rfind('.') + 1), &dt), "fuzz: storage type");
    const uint64_t n = static_cast<uint64_t>(numel->i);
    MVB_CHECK(n <= file->size() && n * c10::elementSize(dt) <= file->size(), "fuzz: storage too large");
    auto s = Value::make(K::kStorage);
    s->tensor.dtype = dt;
    s->tensor.file = file;
    s->tensor.offset = 0;
    s->tensor.bytes = n * c10::elementSize(dt);
    s->tensor.storage_key = key->s;
    storages.emplace(key->s, s);
    return s;
  };
  try {
    size_t consumed = 0;
    (void)mvb::io::pickle::unpickle(data, size, load, "fuzz input", &consumed);
    if (consumed > size) {
      std::fprintf(stderr, "unpickle consumed %zu of %zu bytes\n", consumed, size);
      std::abort();
    }
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
