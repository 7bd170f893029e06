#include "support/expected_outputs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "medvlmbench/io/safetensors.h"

namespace mvb::test {
namespace {

at::Tensor find(const std::map<std::string, at::Tensor>& group, const std::string& kind, const std::string& name) {
  auto it = group.find(name);
  if (it == group.end()) {
    ADD_FAILURE() << "expected.safetensors has no " << kind << "." << name << ": regenerate the fixture";
    return {};
  }
  return it->second;
}

}  // namespace

at::Tensor ExpectedOutputs::input(const std::string& name) const { return find(inputs, "input", name); }
at::Tensor ExpectedOutputs::output(const std::string& name) const { return find(outputs, "output", name); }

ExpectedOutputs read_expected(const std::string& dir, const std::string& file) {
  ExpectedOutputs e;
  const std::string path = dir + "/" + file;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << path << " is missing: regenerate the fixture with its generator under tests/oracles/";
    return e;
  }
  const io::StateDict sd = io::open_safetensors(path);
  for (const auto& name : sd.names()) {
    // clone(): the tensors outlive the mapped file.
    if (name.rfind("input.", 0) == 0) e.inputs[name.substr(6)] = sd.get(name).clone();
    if (name.rfind("output.", 0) == 0) e.outputs[name.substr(7)] = sd.get(name).clone();
  }
  EXPECT_FALSE(e.outputs.empty()) << path << " holds no output.* tensors";
  return e;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() || !b.defined() || a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace mvb::test
