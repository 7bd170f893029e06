// Helpers shared by all test suites.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace mvb::test {

// A fresh temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs argv (no shell) and captures stdout/stderr. `env` entries "K=V" are added to the environment.
CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// The built medvlmbench executable and the source tree.
std::string exe_path();
std::string source_dir();
std::string fixture_path(const std::string& rel);  // tests/fixtures/<rel>

// Debian's /usr/bin/python3 (which sees apt's python3-* packages), or "" when absent.
std::string system_python();
// The line a test prints when Debian's python3 or one of its oracle packages is missing: how to install them.
std::string system_python_missing_message();

// The pinned PyPI oracle environment (tests/oracles/requirements.txt: transformers, open_clip, timm,
// PEFT, bert_score, tokenizers, pyarrow ...), installed by `bash scripts/oracle_env.sh` into
// <source>/.venv; MVB_ORACLE_PYTHON overrides. Returns "" when that interpreter is missing.
std::string oracle_python();
// The line a test prints when oracle_python() is missing: how to install it.
std::string oracle_env_missing_message();
// Runs a Python snippet (or a script path with args) with the oracle environment's interpreter.
CommandResult run_oracle_python(const std::vector<std::string>& args);

// The interpreter an oracle script under tests/oracles/ is written for.
enum class OracleInterpreter {
  kDebianPython,  // system_python(): apt's python3-numpy/-pil/-torch/-sentencepiece (scripts/setup.sh)
  kOracleEnv,     // oracle_python(): the pinned PyPI environment (scripts/oracle_env.sh)
};
// <source>/tests/oracles/<rel>.
std::string oracle_script_path(const std::string& rel);
// Runs tests/oracles/<rel> (e.g. "vision/pil_oracle.py") with `args` under `interpreter` and returns
// what it printed. Every oracle a test runs goes through here, so none is embedded in a C++ string.
// Adds a test failure (never a skip) when the interpreter is missing, with the line saying how to
// install it (exit_code stays -1), and when the script exits non-zero, with its stderr.
CommandResult run_oracle_script(OracleInterpreter interpreter, const std::string& rel,
                                const std::vector<std::string>& args = {});

// Fails (never skips) the current test when the oracle environment is missing.
#define MVB_REQUIRE_ORACLE_ENV()                                                                   \
  do {                                                                                             \
    if (::mvb::test::oracle_python().empty()) FAIL() << ::mvb::test::oracle_env_missing_message(); \
  } while (0)

void write_text(const std::string& path, const std::string& content);
std::string read_text(const std::string& path);

// What mvb::Error `f` throws, or "(no error)": for tests that check an error's wording.
std::string error_message_of(const std::function<void()>& f);

}  // namespace mvb::test
