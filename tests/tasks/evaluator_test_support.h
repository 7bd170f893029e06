// Helpers for the task-evaluator tests: run an evaluator on rows and check metrics.json invariants.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/tasks/task.h"

namespace mvb::test {

inline ScoreResult score_rows(const std::string& task, const std::vector<nlohmann::json>& rows,
                              ScoreOptions opts = {}) {
  return task_registry().get(task).evaluator()->score(rows, opts);
}

// No NaN or infinity anywhere (metrics.json must stay valid JSON with defined numbers).
inline void expect_finite(const nlohmann::json& j, const std::string& path = "") {
  if (j.is_number_float()) {
    EXPECT_TRUE(std::isfinite(j.get<double>())) << path;
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) expect_finite(v, path + "/" + k);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) expect_finite(j[i], path + "[" + std::to_string(i) + "]");
  }
}

inline bool notes_mention(const ScoreResult& r, const std::string& text) {
  for (const auto& n : r.notes)
    if (n.get<std::string>().find(text) != std::string::npos) return true;
  return false;
}

}  // namespace mvb::test
