// Helpers for the dataset loader tests: load a split of a registered dataset, copy a fixture so a
// test can break it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/sample.h"
#include "medvlmbench/datasets/dataset.h"
#include "support/test_support.h"

namespace mvb::test {

inline std::string dataset_fixture(const std::string& name) { return fixture_path("datasets/" + name); }

inline std::vector<Sample> load_split(const std::string& dataset, const std::string& task, const std::string& split,
                                      const std::string& root) {
  auto ds = dataset_registry().get(dataset).factory();
  auto reader = ds->open(DatasetRequest{task, split, root, ""});
  std::vector<Sample> out;
  Sample s;
  while (reader->next(s)) out.push_back(s);
  return out;
}

// What the reference's own readers (pickle, numpy, PIL) print for a fixture file:
// tests/oracles/datasets/loader_oracle.py COMMAND PATH with Debian's python3.
inline CommandResult loader_oracle(const std::string& command, const std::string& path) {
  return run_oracle_script(OracleInterpreter::kDebianPython, "datasets/loader_oracle.py", {command, path});
}

inline std::vector<Sample> errors_of(const std::vector<Sample>& samples) {
  std::vector<Sample> out;
  for (const auto& s : samples)
    if (!s.error.empty()) out.push_back(s);
  return out;
}

inline std::vector<std::string> ids_of(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples) out.push_back(s.id);
  return out;
}

inline std::vector<int> labels_of(const std::vector<Sample>& samples) {
  std::vector<int> out;
  for (const auto& s : samples) out.push_back(s.labels.empty() ? -1 : s.labels.front());
  return out;
}

// Copies fixture `name` into `dir`/name and returns that path.
inline std::string copy_fixture(const std::string& name, const TempDir& dir) {
  const std::string dst = dir / name;
  std::filesystem::copy(dataset_fixture(name), dst, std::filesystem::copy_options::recursive);
  return dst;
}

inline const Sample* find_id(const std::vector<Sample>& samples, const std::string& id) {
  for (const auto& s : samples)
    if (s.id == id) return &s;
  return nullptr;
}

}  // namespace mvb::test
