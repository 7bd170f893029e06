#include "support/test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"

extern char** environ;

namespace mvb::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mvbtest.XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
  posix_spawn_file_actions_addclose(&fa, err_pipe[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  // An entry replaces the inherited variable of the same name (getenv would see the first of two).
  for (const auto& e : env) {
    const std::string key = e.substr(0, e.find('=') + 1);
    env_store.erase(std::remove_if(env_store.begin(), env_store.end(),
                                   [&](const std::string& s) { return s.compare(0, key.size(), key) == 0; }),
                    env_store.end());
    env_store.push_back(e);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult r;
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.err = std::string("spawn failed: ") + std::strerror(rc);
    return r;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string exe_path() { return std::string(MVB_BINARY_DIR) + "/medvlmbench"; }
std::string source_dir() { return MVB_SOURCE_DIR; }
std::string fixture_path(const std::string& rel) { return source_dir() + "/tests/fixtures/" + rel; }
std::string system_python() { return MVB_SYSTEM_PYTHON; }

std::string oracle_python() {
  const char* env = std::getenv("MVB_ORACLE_PYTHON");
  const std::string py = (env && *env) ? std::string(env) : source_dir() + "/.venv/bin/python";
  return ::access(py.c_str(), X_OK) == 0 ? py : std::string();
}

std::string oracle_env_missing_message() {
  return "the PyPI oracle environment is missing (" + source_dir() +
         "/.venv/bin/python, or MVB_ORACLE_PYTHON): install it with `bash scripts/oracle_env.sh`";
}

CommandResult run_oracle_python(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {oracle_python()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::string system_python_missing_message() {
  return "Debian's /usr/bin/python3 with apt's oracle packages is required: install them with `sudo apt-get "
         "install python3 python3-numpy python3-torch python3-sklearn python3-nltk python3-pil "
         "python3-sentencepiece` (or `bash scripts/setup.sh`)";
}

std::string oracle_script_path(const std::string& rel) { return source_dir() + "/tests/oracles/" + rel; }

CommandResult run_oracle_script(OracleInterpreter interpreter, const std::string& rel,
                                const std::vector<std::string>& args) {
  const bool debian = interpreter == OracleInterpreter::kDebianPython;
  std::string py = debian ? system_python() : oracle_python();
  if (!py.empty() && ::access(py.c_str(), X_OK) != 0) py.clear();
  const std::string missing = debian ? system_python_missing_message() : oracle_env_missing_message();
  CommandResult r;
  if (py.empty()) {
    r.err = missing;
    ADD_FAILURE() << "oracle " << rel << " cannot run: " << missing;
    return r;
  }
  std::vector<std::string> argv = {py, oracle_script_path(rel)};
  argv.insert(argv.end(), args.begin(), args.end());
  r = run_command(argv);
  if (r.exit_code != 0) {
    // A missing module is an install problem, not an oracle bug: say how to fix it.
    const bool no_module = r.err.find("ModuleNotFoundError") != std::string::npos;
    ADD_FAILURE() << "oracle " << rel << " failed (exit " << r.exit_code << "):\n"
                  << r.err << (no_module ? missing : "");
  }
  return r;
}

void write_text(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
}

std::string error_message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace mvb::test
