// Runs a Python oracle script of tests/metrics/oracles/ on a JSON input and returns its JSON
// output. Debian's /usr/bin/python3 (with python3-sklearn, python3-nltk) is the reference; when it
// is absent or fails, the test fails (never skips) with a line saying how to install it.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.h"

namespace mvb::test {

#define MVB_REQUIRE_PYTHON()                                                                         \
  do {                                                                                               \
    if (::mvb::test::system_python().empty())                                                        \
      FAIL() << "/usr/bin/python3 is absent, so the sklearn/nltk oracle cannot run; "                \
                "install it with scripts/setup.sh";                                                  \
  } while (0)

inline nlohmann::json run_oracle(const std::string& script, const nlohmann::json& input) {
  TempDir dir;
  write_text(dir / "in.json", input.dump());
  const CommandResult r = run_command({system_python(), source_dir() + "/tests/oracles/metrics/" + script,
                                       dir / "in.json", dir / "out.json", dir / "nltk_data"});
  EXPECT_EQ(r.exit_code, 0) << "oracle " << script << " failed:\n" << r.err;
  if (r.exit_code != 0) return nlohmann::json::object();
  return nlohmann::json::parse(read_text(dir / "out.json"));
}

}  // namespace mvb::test
