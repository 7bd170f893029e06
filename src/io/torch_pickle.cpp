// Restricted unpickler: a stack machine over the pickle opcodes protocol 2-5 writers emit for
// containers, scalars and strings. Object construction (REDUCE/NEWOBJ/BUILD) is allowed only for the
// whitelisted globals below, and none of them runs anything: each is interpreted here.
#include "medvlmbench/io/torch_pickle.h"

#include <ATen/ATen.h>

#include <cstring>
#include <set>
#include <unordered_map>

#include "medvlmbench/core/error.h"

namespace mvb::io::pickle {
namespace {

using K = Value::Kind;

// Globals whose values are plain data we can keep as opaque placeholders (seen in training
// checkpoints beside the weights: epoch counters as numpy scalars, argparse namespaces ...).
const std::set<std::string> kInert = {"numpy.core.multiarray.scalar",
                                      "numpy.dtype",
                                      "numpy.core.multiarray._reconstruct",
                                      "numpy.ndarray",
                                      "argparse.Namespace",
                                      "_codecs.encode",
                                      "builtins.set",
                                      "builtins.frozenset",
                                      "torch.device",
                                      "builtins.slice",
                                      "pathlib.PosixPath"};

const std::set<std::string> kTensorRebuilders = {"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
                                                 "torch._utils._rebuild_parameter",
                                                 "torch._utils._rebuild_parameter_with_state"};

bool is_allowed_global(const std::string& g) {
  at::ScalarType t;
  if (g == "collections.OrderedDict" || kTensorRebuilders.count(g) || kInert.count(g)) return true;
  if (g.rfind("torch.", 0) == 0 && storage_dtype(g.substr(6), &t)) return true;
  return false;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* d, size_t n, const PersistentLoader& pl, const std::string& where)
      : begin_(d), p_(d), end_(d + n), persistent_(pl), where_(where) {}

  ValuePtr run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80:
          u8();
          break;  // PROTO
        case 0x95:
          take(8);
          break;   // FRAME: framing is only a hint
        case '.':  // STOP
          fail_if(stack_.size() != 1, "STOP with ", stack_.size(), " values on the stack");
          consumed_ = static_cast<size_t>(p_ - begin_);
          return stack_.back();
        case '}':
          push(Value::make(K::kDict));
          break;  // EMPTY_DICT
        case ']':
          push(Value::make(K::kList));
          break;  // EMPTY_LIST
        case ')':
          push(Value::make(K::kTuple));
          break;  // EMPTY_TUPLE
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case 'N':
          push(Value::make(K::kNone));
          break;
        case 0x88:
          push(make_bool(true));
          break;  // NEWTRUE
        case 0x89:
          push(make_bool(false));
          break;  // NEWFALSE
        case 'J':
          push(make_int(static_cast<int32_t>(le(4))));
          break;  // BININT
        case 'K':
          push(make_int(le(1)));
          break;  // BININT1
        case 'M':
          push(make_int(le(2)));
          break;  // BININT2
        case 0x8a:
          push(make_int(long_int(le(1))));
          break;  // LONG1
        case 0x8b:
          push(make_int(long_int(le(4))));
          break;     // LONG4
        case 'G': {  // BINFLOAT (big-endian)
          uint64_t bits = 0;
          for (const uint8_t b : take(8)) bits = (bits << 8) | b;
          auto v = Value::make(K::kFloat);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'X':
          push(make_str(K::kStr, le(4)));
          break;  // BINUNICODE
        case 0x8c:
          push(make_str(K::kStr, le(1)));
          break;  // SHORT_BINUNICODE
        case 0x8d:
          push(make_str(K::kStr, le(8)));
          break;  // BINUNICODE8
        case 'T':
          push(make_str(K::kStr, le(4)));
          break;  // BINSTRING (py2)
        case 'U':
          push(make_str(K::kStr, le(1)));
          break;  // SHORT_BINSTRING
        case 'B':
          push(make_str(K::kBytes, le(4)));
          break;  // BINBYTES
        case 'C':
          push(make_str(K::kBytes, le(1)));
          break;  // SHORT_BINBYTES
        case 0x8e:
          push(make_str(K::kBytes, le(8)));
          break;  // BINBYTES8
        case 'q':
          memo_[le(1)] = top();
          break;  // BINPUT
        case 'r':
          memo_[le(4)] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo_get(le(1)));
          break;  // BINGET
        case 'j':
          push(memo_get(le(4)));
          break;     // LONG_BINGET
        case 't': {  // TUPLE
          auto v = Value::make(K::kTuple);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 0x85:
          tuple_n(1);
          break;  // TUPLE1
        case 0x86:
          tuple_n(2);
          break;  // TUPLE2
        case 0x87:
          tuple_n(3);
          break;     // TUPLE3
        case 'l': {  // LIST
          auto v = Value::make(K::kList);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 'a': {  // APPEND
          ValuePtr x = pop();
          list_target()->items.push_back(x);
          break;
        }
        case 'e': {  // APPENDS
          auto xs = pop_mark();
          auto l = list_target();
          l->items.insert(l->items.end(), xs.begin(), xs.end());
          break;
        }
        case 's': {  // SETITEM
          ValuePtr v = pop(), k = pop();
          dict_target()->entries.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto xs = pop_mark();
          fail_if(xs.size() % 2 != 0, "SETITEMS with an odd number of values");
          auto d = dict_target();
          for (size_t i = 0; i < xs.size(); i += 2) d->entries.emplace_back(xs[i], xs[i + 1]);
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          std::string mod = line(), name = line();
          push(make_global(mod + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          ValuePtr name = pop(), mod = pop();
          fail_if(name->kind != K::kStr || mod->kind != K::kStr, "STACK_GLOBAL needs two strings");
          push(make_global(mod->s + "." + name->s));
          break;
        }
        case 'R': {  // REDUCE
          ValuePtr args = pop(), fn = pop();
          push(call(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          ValuePtr args = pop(), cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': {  // BUILD: sets state on an object; only meaningful state is kept for tensors
          ValuePtr state = pop();
          (void)state;
          fail_if(stack_.empty(), "BUILD on an empty stack");
          break;
        }
        case 'Q': {  // BINPERSID
          ValuePtr pid = pop();
          fail_if(!persistent_, "persistent id without a storage loader");
          push(persistent_(pid));
          break;
        }
        case '0':
          pop();
          break;  // POP
        case '2':
          push(top());
          break;  // DUP
        case '1':
          pop_mark();
          break;  // POP_MARK
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%02x", op);
          throw Error("unsupported pickle opcode " + std::string(buf) + " at byte " + std::to_string(p_ - 1 - begin_) +
                      " of " + where_ + " (not a torch.save state dict, or a format this reader does not know)");
        }
      }
    }
  }

 public:
  size_t consumed() const { return consumed_; }

 private:
  template <class... A>
  void fail_if(bool c, A&&... parts) {
    if (c) throw Error("corrupt " + where_ + ": " + detail::concat(std::forward<A>(parts)...));
  }

  uint8_t u8() {
    fail_if(p_ >= end_, "pickle ends without STOP (truncated file)");
    return *p_++;
  }
  std::vector<uint8_t> take(uint64_t n) {
    fail_if(n > static_cast<uint64_t>(end_ - p_), "pickle truncated (needs ", n, " more bytes)");
    std::vector<uint8_t> out(p_, p_ + n);
    p_ += n;
    return out;
  }
  uint64_t le(int n) {
    fail_if(static_cast<int64_t>(end_ - p_) < n, "pickle truncated");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p_[i]) << (8 * i);
    p_ += n;
    return v;
  }
  // LONG1/LONG4: little-endian two's complement of the given length.
  int64_t long_int(uint64_t n) {
    fail_if(n > 8, "integer wider than 64 bits");
    const auto bytes = take(n);
    if (n == 0) return 0;
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    if (n < 8 && (bytes[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    fail_if(!nl, "unterminated GLOBAL name");
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(nl - p_));
    p_ = nl + 1;
    return s;
  }
  ValuePtr make_bool(bool b) {
    auto v = Value::make(K::kBool);
    v->b = b;
    return v;
  }
  ValuePtr make_int(int64_t i) {
    auto v = Value::make(K::kInt);
    v->i = i;
    return v;
  }
  ValuePtr make_str(K k, uint64_t n) {
    fail_if(n > static_cast<uint64_t>(end_ - p_), "string of ", n, " bytes runs past the end");
    auto v = Value::make(k);
    v->s.assign(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return v;
  }
  ValuePtr make_global(const std::string& g) {
    if (!is_allowed_global(g))
      throw Error("refusing to load " + where_ + ": it references the Python global '" + g +
                  "', which is not a tensor, storage or plain container (only weights can be loaded; "
                  "re-save with torch.save(model.state_dict(), path))");
    auto v = Value::make(K::kGlobal);
    v->s = g;
    return v;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    fail_if(stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()), "pickle stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top() {
    fail_if(stack_.empty(), "pickle stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    fail_if(marks_.empty(), "pickle MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    fail_if(m > stack_.size(), "pickle MARK beyond the stack");
    std::vector<ValuePtr> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  void tuple_n(size_t n) {
    auto v = Value::make(K::kTuple);
    v->items.resize(n);
    for (size_t i = n; i-- > 0;) v->items[i] = pop();
    push(v);
  }
  ValuePtr memo_get(uint64_t k) {
    auto it = memo_.find(k);
    fail_if(it == memo_.end(), "memo key ", k, " used before it was stored");
    return it->second;
  }
  std::shared_ptr<Value> list_target() {
    auto l = top();
    fail_if(l->kind != K::kList, "APPEND to a ", l->repr_kind());
    return l;
  }
  std::shared_ptr<Value> dict_target() {
    auto d = top();
    fail_if(d->kind != K::kDict, "SETITEM on a ", d->repr_kind());
    return d;
  }

  std::vector<int64_t> int_list(const ValuePtr& v, const char* what) {
    fail_if(v->kind != K::kTuple && v->kind != K::kList, what, " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v->items) {
      fail_if(x->kind != K::kInt, what, " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  ValuePtr call(const ValuePtr& fn, const ValuePtr& args) {
    fail_if(fn->kind != K::kGlobal, "call of a ", fn->repr_kind(), " (only whitelisted globals can be called)");
    fail_if(args->kind != K::kTuple, "call arguments are not a tuple");
    const std::string& g = fn->s;
    const auto& a = args->items;
    if (g == "collections.OrderedDict") {
      fail_if(!a.empty(), "OrderedDict with arguments is not supported");
      return Value::make(K::kDict);
    }
    if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
      // (storage, storage_offset, size, stride, [requires_grad, backward_hooks, [metadata]])
      fail_if(a.size() < 4, g, " with ", a.size(), " arguments");
      fail_if(a[0]->kind != K::kStorage, g, " without a storage");
      fail_if(a[1]->kind != K::kInt, g, " storage offset is not an integer");
      auto t = Value::make(K::kTensor);
      t->tensor = a[0]->tensor;
      t->tensor.storage_offset = a[1]->i;
      t->tensor.shape = int_list(a[2], "tensor size");
      t->tensor.strides = int_list(a[3], "tensor stride");
      fail_if(t->tensor.shape.size() != t->tensor.strides.size(), "tensor size and stride differ in length");
      for (size_t d = 0; d < t->tensor.shape.size(); ++d)
        fail_if(t->tensor.shape[d] < 0 || t->tensor.strides[d] < 0, "negative tensor size or stride");
      return t;
    }
    if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
      fail_if(a.empty() || a[0]->kind != K::kTensor, g, " without a tensor");
      return a[0];
    }
    // Inert data types: keep a placeholder so the surrounding dict still loads.
    auto v = Value::make(K::kOpaque);
    v->s = g;
    return v;
  }

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  const PersistentLoader& persistent_;
  std::string where_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  size_t consumed_ = 0;
};

}  // namespace

std::string Value::repr_kind() const {
  switch (kind) {
    case K::kNone:
      return "None";
    case K::kBool:
      return "bool";
    case K::kInt:
      return "int";
    case K::kFloat:
      return "float";
    case K::kStr:
      return "str";
    case K::kBytes:
      return "bytes";
    case K::kTuple:
      return "tuple";
    case K::kList:
      return "list";
    case K::kDict:
      return "dict";
    case K::kGlobal:
      return "global " + s;
    case K::kStorage:
      return "storage";
    case K::kTensor:
      return "tensor";
    case K::kOpaque:
      return "object of " + s;
  }
  return "?";
}

bool storage_dtype(const std::string& type_name, at::ScalarType* out) {
  static const std::unordered_map<std::string, at::ScalarType> kTable = {{"FloatStorage", at::kFloat},
                                                                         {"HalfStorage", at::kHalf},
                                                                         {"BFloat16Storage", at::kBFloat16},
                                                                         {"DoubleStorage", at::kDouble},
                                                                         {"LongStorage", at::kLong},
                                                                         {"IntStorage", at::kInt},
                                                                         {"ShortStorage", at::kShort},
                                                                         {"CharStorage", at::kChar},
                                                                         {"ByteStorage", at::kByte},
                                                                         {"BoolStorage", at::kBool},
                                                                         {"ComplexFloatStorage", at::kComplexFloat},
                                                                         {"ComplexDoubleStorage", at::kComplexDouble}};
  auto it = kTable.find(type_name);
  if (it == kTable.end()) return false;
  *out = it->second;
  return true;
}

ValuePtr unpickle(const uint8_t* data, size_t size, const PersistentLoader& persistent, const std::string& where,
                  size_t* consumed) {
  Unpickler u(data, size, persistent, where);
  ValuePtr v = u.run();
  if (consumed) *consumed = u.consumed();
  return v;
}

}  // namespace mvb::io::pickle
