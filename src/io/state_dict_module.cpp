#include "medvlmbench/io/state_dict_module.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <set>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb::io {
namespace {

bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns)
    if (name == p || (ends_with(p, ".") && starts_with(name, p))) return true;
  return false;
}

std::string shape_text(at::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

void list_some(std::ostringstream& os, const char* what, const std::vector<std::string>& names) {
  if (names.empty()) return;
  os << "; " << names.size() << " " << what << ": ";
  for (size_t i = 0; i < names.size() && i < 5; ++i) os << (i ? ", " : "") << names[i];
  if (names.size() > 5) os << ", ...";
}

}  // namespace

std::string LoadReport::summary() const {
  std::ostringstream os;
  os << loaded << " tensors loaded";
  list_some(os, "missing", missing);
  list_some(os, "unexpected", unexpected);
  list_some(os, "with mismatched shapes", mismatched);
  return os.str();
}

LoadReport load_into(torch::nn::Module& module, const StateDict& sd, const LoadOptions& opts) {
  if (opts.dtype) module.to(*opts.dtype);
  LoadReport rep;
  std::set<std::string> wanted;
  at::NoGradGuard no_grad;
  auto copy_one = [&](const std::string& name, at::Tensor& dst) {
    wanted.insert(name);
    if (!sd.contains(name)) {
      if (!matches_any(name, opts.ignore_missing)) rep.missing.push_back(name);
      return;
    }
    const TensorRecord& r = sd.record(name);
    if (!dst.sizes().equals(r.shape)) {
      rep.mismatched.push_back(name + ": checkpoint " + shape_text(r.shape) + " vs module " + shape_text(dst.sizes()));
      return;
    }
    dst.copy_(sd.get(name));  // zero-copy view of the mapping, cast and copied once
    r.file->release(r.offset, r.bytes);
    ++rep.loaded;
  };
  for (auto& item : module.named_parameters(/*recurse=*/true)) copy_one(item.key(), item.value());
  for (auto& item : module.named_buffers(/*recurse=*/true)) copy_one(item.key(), item.value());
  for (const auto& n : sd.names())
    if (!wanted.count(n) && !matches_any(n, opts.ignore_unexpected)) rep.unexpected.push_back(n);
  MVB_CHECK(!opts.strict || rep.ok(), "weights ", sd.source(), " do not fit the model: ", rep.summary());
  return rep;
}

}  // namespace mvb::io
