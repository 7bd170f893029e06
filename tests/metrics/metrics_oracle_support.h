// Runs a Python oracle script of tests/oracles/metrics/ on a JSON input and returns its JSON
// output. Debian's /usr/bin/python3 (with python3-sklearn, python3-nltk) is the reference; when it
// is absent or fails, the test fails (never skips) with a line saying how to install it.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.h"

namespace mvb::test {

#define MVB_REQUIRE_PYTHON()                                                                          \
  do {                                                                                                \
    if (::mvb::test::system_python().empty()) FAIL() << ::mvb::test::system_python_missing_message(); \
  } while (0)

inline nlohmann::json run_oracle(const std::string& script, const nlohmann::json& input) {
  TempDir dir;
  write_text(dir / "in.json", input.dump());
  const CommandResult r = run_oracle_script(OracleInterpreter::kDebianPython, "metrics/" + script,
                                            {dir / "in.json", dir / "out.json", dir / "nltk_data"});
  if (r.exit_code != 0) return nlohmann::json::object();
  return nlohmann::json::parse(read_text(dir / "out.json"));
}

}  // namespace mvb::test
