#include "medvlmbench/nn/weights.h"

#include <ATen/ATen.h>

#include <set>
#include <sstream>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

std::optional<std::string> drop_position_ids(const std::string& n) {
  static const std::string suffix = "position_ids";
  if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) return std::nullopt;
  return n;
}

TensorMap read_weights(const io::StateDict& sd, const RenameFn& rename) {
  TensorMap out;
  std::map<std::string, std::string> origin;
  for (const auto& name : sd.names()) {
    std::optional<std::string> to = rename ? rename(name) : std::optional<std::string>(name);
    if (!to) continue;
    MVB_CHECK(!out.count(*to), sd.source(), ": both '", origin[*to], "' and '", name, "' map to '", *to, "'");
    out[*to] = sd.get(name);
    origin[*to] = name;
  }
  return out;
}

std::string AssignReport::summary() const {
  auto head = [](const std::vector<std::string>& v) {
    std::ostringstream os;
    for (size_t i = 0; i < v.size() && i < 4; ++i) os << (i ? ", " : "") << v[i];
    if (v.size() > 4) os << " (+" << v.size() - 4 << " more)";
    return os.str();
  };
  std::ostringstream os;
  os << loaded << " tensors loaded";
  if (!missing.empty()) os << "; missing: " << head(missing);
  if (!unexpected.empty()) os << "; unexpected: " << head(unexpected);
  if (!mismatched.empty()) os << "; shape mismatch: " << head(mismatched);
  return os.str();
}

AssignReport assign_weights(torch::nn::Module& module, const TensorMap& tensors, const std::string& source,
                            const std::vector<std::string>& optional_names) {
  AssignReport r;
  std::set<std::string> used;
  auto optional = [&](const std::string& n) {
    for (const auto& p : optional_names)
      if (n.rfind(p, 0) == 0 || n.find(p) != std::string::npos) return true;
    return false;
  };
  at::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, at::Tensor& dst) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      if (!optional(name)) r.missing.push_back(name);
      return;
    }
    used.insert(name);
    const at::Tensor& src = it->second;
    if (src.sizes() != dst.sizes()) {
      std::ostringstream os;
      os << name << ": checkpoint " << src.sizes() << " vs model " << dst.sizes();
      r.mismatched.push_back(os.str());
      return;
    }
    dst.copy_(src);
    // The module holds the values now: drop the checkpoint's pages so that peak memory stays at
    // about one copy of the weights (a no-op when src is not on a mapped file).
    io::release_mapped_pages(src);
    ++r.loaded;
  };
  for (auto& p : module.named_parameters(true)) copy(p.key(), p.value());
  for (auto& b : module.named_buffers(true)) {
    if (tensors.count(b.key())) copy(b.key(), b.value());
  }
  for (const auto& kv : tensors)
    if (!used.count(kv.first) && !std::count_if(r.mismatched.begin(), r.mismatched.end(),
                                                [&](const std::string& m) { return m.rfind(kv.first + ":", 0) == 0; }))
      r.unexpected.push_back(kv.first);
  MVB_CHECK(r.ok(), "cannot load ", source, ": ", r.summary(),
            ". Is --model_path the checkpoint of the model named by --model?");
  return r;
}

std::vector<std::pair<std::string, at::Tensor>> named_tensors(torch::nn::Module& module,
                                                              const std::function<bool(const std::string&)>& keep) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& p : module.named_parameters(true))
    if (!keep || keep(p.key())) out.emplace_back(p.key(), p.value().detach());
  return out;
}

bool is_lora_name(const std::string& name) {
  // lora_A / lora_B (Linear adapters), lora_embedding_A / lora_embedding_B (embedding adapters, PEFT's names).
  return name.find("lora_A") != std::string::npos || name.find("lora_B") != std::string::npos ||
         name.find("lora_embedding_A") != std::string::npos || name.find("lora_embedding_B") != std::string::npos;
}

}  // namespace mvb::nn
