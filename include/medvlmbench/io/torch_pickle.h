// A restricted unpickler for the subset of Python pickle that torch.save uses for state dicts.
//
// It builds plain values (None, bool, int, float, str, bytes, tuple, list, dict) and tensors; the only
// globals it accepts are collections.OrderedDict, torch's tensor rebuild functions and storage types,
// plus a few inert data types (numpy scalars/dtypes, argparse.Namespace) that become opaque values.
// Everything else — including builtins like eval or os.system — is refused with an error naming it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/io/state_dict.h"

namespace mvb::io::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kStr,
    kBytes,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor,
    kOpaque
  };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                       // str/bytes; "module.name" for globals; opaque type
  std::vector<ValuePtr> items;                         // tuple/list
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, insertion ordered
  TensorRecord tensor;                                 // storage (view fields unused) or tensor

  static ValuePtr make(Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
  }
  std::string repr_kind() const;
};

// Resolves a persistent id (the tuple torch.save writes for each storage) to a storage value.
using PersistentLoader = std::function<ValuePtr(const ValuePtr& pid)>;

// Unpickles `data`; `where` names the source in errors ("checkpoint /path/x.bin"). When `consumed` is
// given it receives the bytes read up to and including STOP (the legacy torch.save format writes
// several pickles back to back).
ValuePtr unpickle(const uint8_t* data, size_t size, const PersistentLoader& persistent, const std::string& where,
                  size_t* consumed = nullptr);

// Storage type name ("FloatStorage") -> dtype; false when unknown.
bool storage_dtype(const std::string& type_name, at::ScalarType* out);

}  // namespace mvb::io::pickle
