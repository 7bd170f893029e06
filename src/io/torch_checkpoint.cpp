#include "medvlmbench/io/torch_checkpoint.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <unordered_map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/torch_pickle.h"
#include "torch_legacy.h"

namespace mvb::io {
namespace {

using pickle::Value;
using pickle::ValuePtr;
using K = Value::Kind;

std::string head(const std::string& path, size_t n) {
  std::ifstream f(path, std::ios::binary);
  std::string s(n, '\0');
  f.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

// A pickle can build cyclic or absurdly deep containers (a list appended to itself); real state
// dicts nest a few levels, so deeper structures are refused instead of recursing without bound.
constexpr int kMaxDepth = 32;

void check_depth(int depth) {
  MVB_CHECK(depth <= kMaxDepth, "checkpoint containers nest deeper than ", kMaxDepth,
            " levels (cyclic or not a state dict)");
}

bool holds_tensors(const ValuePtr& v, int depth = 0) {
  check_depth(depth);
  if (v->kind == K::kTensor) return true;
  if (v->kind == K::kDict)
    for (const auto& [k, x] : v->entries)
      if (holds_tensors(x, depth + 1)) return true;
  if (v->kind == K::kList || v->kind == K::kTuple)
    for (const auto& x : v->items)
      if (holds_tensors(x, depth + 1)) return true;
  return false;
}

std::string key_text(const ValuePtr& k) {
  if (k->kind == K::kStr) return k->s;
  if (k->kind == K::kInt) return std::to_string(k->i);
  return "<" + k->repr_kind() + ">";
}

// Flattens nested containers to dotted names; non-tensor leaves (epochs, configs) are skipped.
void flatten(const ValuePtr& v, const std::string& prefix, StateDict& out, int depth = 0) {
  check_depth(depth);
  if (v->kind == K::kTensor) {
    out.add(prefix.empty() ? "tensor" : prefix, v->tensor);
  } else if (v->kind == K::kDict) {
    for (const auto& [k, x] : v->entries)
      flatten(x, prefix.empty() ? key_text(k) : prefix + "." + key_text(k), out, depth + 1);
  } else if (v->kind == K::kList || v->kind == K::kTuple) {
    for (size_t i = 0; i < v->items.size(); ++i)
      flatten(v->items[i], prefix.empty() ? std::to_string(i) : prefix + "." + std::to_string(i), out, depth + 1);
  }
}

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Storages are mapped straight from the archive, which is only right for records stored without
// compression (what torch.save writes). A checkpoint re-zipped by another tool could deflate them;
// find the record's local zip header just before its data and refuse anything but "stored".
void check_stored_uncompressed(const MappedFile& f, uint64_t data_offset, const std::string& record,
                               const std::string& path) {
  const uint8_t* base = f.data();
  const uint64_t lowest = data_offset > 30 + 65535 + 65535 ? data_offset - 30 - 65535 - 65535 : 0;
  for (uint64_t pos = data_offset >= 30 ? data_offset - 30 : 0; pos + 1 > lowest && pos + 30 <= f.size(); --pos) {
    const uint8_t* h = base + pos;
    if (h[0] == 'P' && h[1] == 'K' && h[2] == 3 && h[3] == 4 && pos + 30 + le16(h + 26) + le16(h + 28) == data_offset) {
      MVB_CHECK(le16(h + 8) == 0, "checkpoint ", path, ": record ", record,
                " is compressed inside the zip (not written by torch.save); re-save it with torch.save");
      return;
    }
    if (pos == 0) break;
  }
  throw Error("corrupt checkpoint " + path + ": no zip header found for record " + record);
}

// Training checkpoints wrap the weights; the wrapped dict alone is taken (its siblings are optimizer
// state, epochs ...), and any other nesting is flattened to dotted names.
StateDict to_state_dict(ValuePtr root, const std::string& path) {
  StateDict sd;
  sd.set_source(path);
  try {
    if (root->kind == K::kDict) {
      ValuePtr wrapped;
      for (const char* wrapper : {"state_dict", "model_state_dict", "model", "module", "net"}) {
        for (const auto& [k, v] : root->entries)
          if (!wrapped && k->kind == K::kStr && k->s == wrapper && v->kind == K::kDict && holds_tensors(v)) wrapped = v;
      }
      if (wrapped) root = wrapped;
    }
    MVB_CHECK(holds_tensors(root), "it holds no tensors (top level is a ", root->repr_kind(), ")");
    flatten(root, "", sd);
  } catch (const Error& e) {
    throw Error("cannot load checkpoint " + path + ": " + e.what());
  }
  return sd;
}

// The object of a torch >= 1.6 zip archive: data.pkl, with each storage mapped from its record.
ValuePtr unpickle_zip_checkpoint(const std::string& path) {
  auto file = MappedFile::open(path);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  at::DataPtr pkl;
  size_t pkl_size = 0;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    MVB_CHECK(reader->hasRecord("data.pkl"), "checkpoint ", path,
              " has no data.pkl (a TorchScript archive? save a state dict with torch.save instead)");
    std::tie(pkl, pkl_size) = reader->getRecord("data.pkl");
  } catch (const c10::Error& e) {
    throw Error("corrupt checkpoint " + path + ": cannot read the zip archive (" + e.what_without_backtrace() + ")");
  }
  std::unordered_map<std::string, ValuePtr> storages;
  auto load_storage = [&](const ValuePtr& pid) -> ValuePtr {
    // ('storage', <storage type>, key, location, numel)
    MVB_CHECK(pid->kind == K::kTuple && pid->items.size() >= 5 && pid->items[0]->kind == K::kStr &&
                  pid->items[0]->s == "storage",
              "corrupt checkpoint ", path, ": unexpected persistent id (not a storage)");
    const auto& type = pid->items[1];
    const auto& key = pid->items[2];
    const auto& numel = pid->items[4];
    MVB_CHECK(type->kind == K::kGlobal && key->kind == K::kStr && numel->kind == K::kInt && numel->i >= 0,
              "corrupt checkpoint ", path, ": malformed storage reference");
    auto it = storages.find(key->s);
    if (it != storages.end()) return it->second;
    at::ScalarType dt;
    const std::string tname = type->s.substr(type->s.rfind('.') + 1);
    MVB_CHECK(pickle::storage_dtype(tname, &dt), "checkpoint ", path, ": unsupported storage type ", type->s);
    const std::string rec = "data/" + key->s;
    uint64_t off = 0;
    try {
      MVB_CHECK(reader->hasRecord(rec), "corrupt checkpoint ", path, ": storage record ", rec, " is missing");
      off = reader->getRecordOffset(rec);
    } catch (const c10::Error& e) {
      throw Error("corrupt checkpoint " + path + ": " + e.what_without_backtrace());
    }
    MVB_CHECK(off <= file->size(), "corrupt checkpoint ", path, ": record ", rec, " starts past the end of the file");
    check_stored_uncompressed(*file, off, rec, path);
    const uint64_t bytes = static_cast<uint64_t>(numel->i) * c10::elementSize(dt);
    MVB_CHECK(
        static_cast<uint64_t>(numel->i) <= (uint64_t{1} << 60) && off <= file->size() && bytes <= file->size() - off,
        "truncated or corrupt checkpoint ", path, ": storage ", key->s, " (", bytes,
        " bytes) reaches past the end of the file");
    auto s = Value::make(K::kStorage);
    s->tensor.dtype = dt;
    s->tensor.file = file;
    s->tensor.offset = off;
    s->tensor.bytes = bytes;
    s->tensor.storage_key = key->s;
    storages.emplace(key->s, s);
    return s;
  };
  return pickle::unpickle(static_cast<const uint8_t*>(pkl.get()), pkl_size, load_storage, "checkpoint " + path);
}

}  // namespace

TorchCheckpointFormat torch_checkpoint_format(const std::string& path) {
  // A tar archive carries "ustar" at byte 257 of its first header.
  const std::string h = head(path, 512);
  if (h.compare(0, 4, std::string("PK\x03\x04", 4)) == 0) return TorchCheckpointFormat::kZip;
  if (starts_like_legacy_checkpoint(h)) return TorchCheckpointFormat::kLegacy;
  if (h.size() >= 262 && h.compare(257, 5, "ustar") == 0) return TorchCheckpointFormat::kTar;
  return TorchCheckpointFormat::kUnknown;
}

bool is_zip_checkpoint(const std::string& path) { return torch_checkpoint_format(path) == TorchCheckpointFormat::kZip; }

StateDict open_torch_checkpoint(const std::string& path) {
  MVB_CHECK(exists(path), "missing checkpoint ", path);
  switch (torch_checkpoint_format(path)) {
    case TorchCheckpointFormat::kZip:
      return to_state_dict(unpickle_zip_checkpoint(path), path);
    case TorchCheckpointFormat::kLegacy:
      return to_state_dict(unpickle_legacy_checkpoint(path), path);
    case TorchCheckpointFormat::kTar:
      throw Error("checkpoint " + path +
                  " uses the tar-based format of the earliest torch.save versions, which is not supported; re-save "
                  "it with a recent torch: torch.save(torch.load(p), p)");
    case TorchCheckpointFormat::kUnknown:
      break;
  }
  throw Error("not a PyTorch checkpoint: " + path +
              " is neither a torch.save file (zip archive or legacy pickle stream) nor a safetensors file");
}

}  // namespace mvb::io
