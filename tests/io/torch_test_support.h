// Shared by the torch.save checkpoint tests (zip and legacy formats): Debian's python3-torch saves
// an object (tests/oracles/io/torch_checkpoint_oracle.py) and reports the tensors the loader should
// expose, and the loaded values are compared.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/io/state_dict.h"
#include "support/test_support.h"

namespace mvb::test {

// Runs tests/oracles/io/torch_checkpoint_oracle.py CASE ARGS... (Debian's python3-torch); `zip`
// picks the torch.save format the case's save() writes (false: the legacy stream of torch < 1.6).
inline CommandResult run_torch_oracle(const std::string& name, const std::vector<std::string>& args, bool zip = true) {
  std::vector<std::string> argv;
  if (!zip) argv.push_back("--legacy");
  argv.push_back(name);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_oracle_script(OracleInterpreter::kDebianPython, "io/torch_checkpoint_oracle.py", argv);
}

// Runs a case that saves to `path` and prints {name: [dtype, shape, flat values as float64]} of the
// tensors the loader should expose; with `raw_dir`, it also writes each tensor's contiguous bytes to
// <raw_dir>/<name>.
inline nlohmann::json save_with_python(const std::string& name, const std::string& path,
                                       const std::string& raw_dir = "", bool zip = true) {
  std::vector<std::string> args{path};
  if (!raw_dir.empty()) args.push_back(raw_dir);
  auto r = run_torch_oracle(name, args, zip);
  if (r.exit_code != 0) return nlohmann::json::object();
  return nlohmann::json::parse(r.out);
}

inline const char* torch_dtype_str(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kDouble:
      return "float64";
    case at::kLong:
      return "int64";
    case at::kInt:
      return "int32";
    case at::kByte:
      return "uint8";
    case at::kBool:
      return "bool";
    default:
      return "other";
  }
}

// Same names, dtypes, shapes and values as python reported; with `raw_dir`, also the same bytes.
inline void expect_identical(const io::StateDict& sd, const nlohmann::json& expected, const std::string& raw_dir = "") {
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(sd.size(), expected.size());
  for (const auto& [name, e] : expected.items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(sd.contains(name));
    at::Tensor t = sd.get(name);
    EXPECT_EQ(torch_dtype_str(t.scalar_type()), e[0].get<std::string>());
    EXPECT_EQ(t.sizes().vec(), e[1].get<std::vector<int64_t>>());
    at::Tensor flat = t.to(at::kDouble).flatten();
    const auto& vals = e[2];
    ASSERT_EQ(flat.numel(), static_cast<int64_t>(vals.size()));
    for (int64_t i = 0; i < flat.numel(); ++i) ASSERT_EQ(flat[i].item<double>(), vals[i].get<double>()) << i;
    if (raw_dir.empty()) continue;
    const std::string want = read_text(raw_dir + "/" + name);
    at::Tensor c = t.contiguous();
    ASSERT_EQ(static_cast<size_t>(c.nbytes()), want.size());
    // A zero-size tensor's data_ptr() is null, and memcmp on null is undefined even for 0 bytes (UBSan).
    if (!want.empty()) {
      EXPECT_EQ(std::memcmp(c.data_ptr(), want.data(), want.size()), 0) << "bytes differ";
    }
  }
}

}  // namespace mvb::test
