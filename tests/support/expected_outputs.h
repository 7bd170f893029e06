// Reads the library outputs a fixture generator saved beside a checkpoint (expected.safetensors,
// written by tests/oracles/common/fixture_io.py): "input.<name>" and "output.<name>" tensors.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace mvb::test {

struct ExpectedOutputs {
  std::map<std::string, at::Tensor> inputs;
  std::map<std::string, at::Tensor> outputs;
  // The tensor named `name` of either group; fails the test (ADD_FAILURE) and returns an undefined
  // tensor when absent, so a renamed output can never pass silently.
  at::Tensor input(const std::string& name) const;
  at::Tensor output(const std::string& name) const;
};

// Reads <dir>/<file>; fails the test when it is missing or holds no outputs.
ExpectedOutputs read_expected(const std::string& dir, const std::string& file = "expected.safetensors");

// Largest absolute difference; +inf on shape mismatch or an undefined tensor.
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

}  // namespace mvb::test
