// Shared by the torch.save checkpoint tests (zip and legacy formats): Debian's python3-torch saves
// an object and reports the tensors the loader should expose, and the loaded values are compared.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/io/state_dict.h"
#include "support/test_support.h"

namespace mvb::test {

// Python prelude: save(obj, path) is torch.save in the format under test (ZIP), and dump(flat)
// prints {name: [dtype, shape, flat values as float64]} and, when the snippet got a second argument
// (a folder), writes each tensor's contiguous bytes to <folder>/<name>.
inline const char* kTorchPrelude = R"PY(
import collections, json, os, sys, torch
torch.manual_seed(0)
def save(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=ZIP)
def dump(flat):
    if len(sys.argv) > 2:
        for k, v in flat.items():
            open(os.path.join(sys.argv[2], k), "wb").write(v.detach().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    print(json.dumps({k: [str(v.dtype).replace("torch.", ""), list(v.shape), v.double().flatten().tolist()]
                      for k, v in flat.items()}))
)PY";

// Runs `body` after the prelude; `zip` picks the torch.save format save() writes (false: the legacy
// stream of torch < 1.6).
inline CommandResult run_torch_python(const std::string& body, const std::vector<std::string>& args, bool zip = true) {
  return run_python(std::string("ZIP = ") + (zip ? "True" : "False") + kTorchPrelude + body, args);
}

inline nlohmann::json save_with_python(const std::string& body, const std::string& path,
                                       const std::string& raw_dir = "", bool zip = true) {
  std::vector<std::string> args{path};
  if (!raw_dir.empty()) args.push_back(raw_dir);
  auto r = run_torch_python(body, args, zip);
  EXPECT_EQ(r.exit_code, 0) << r.err;
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
    EXPECT_EQ(std::memcmp(c.data_ptr(), want.data(), want.size()), 0) << "bytes differ";
  }
}

}  // namespace mvb::test
