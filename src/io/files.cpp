#include "medvlmbench/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "medvlmbench/core/error.h"

namespace fs = std::filesystem;

namespace mvb::io {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MVB_CHECK(in.good(), "cannot read ", path, ": ", (exists(path) ? std::strerror(errno) : "no such file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MVB_CHECK(fd >= 0, "cannot write ", tmp, ": ", std::strerror(errno));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write " + tmp + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
}

void write_json_atomic(const std::string& path, const nlohmann::json& j, int indent) {
  // Replace invalid UTF-8 rather than throwing: model outputs can contain anything.
  write_file_atomic(path, j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double (e.g. 1e999).
    throw Error("malformed JSON in " + path + ": " + e.what());
  }
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

void create_directories(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    MVB_CHECK(fs::is_directory(path, ec), path, " exists and is not a directory; choose another path");
    return;
  }
  fs::create_directories(path, ec);
  MVB_CHECK(!ec, "cannot create directory ", path, ": ", ec.message());
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (b.front() == '/') return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

std::string basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto pos = p.find_last_of('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

bool is_within(const std::string& root, const std::string& child) {
  const fs::path r = fs::absolute(root).lexically_normal();
  const fs::path c = fs::absolute(child).lexically_normal();
  auto rel = c.lexically_relative(r);
  if (rel.empty()) return false;
  const std::string first = rel.begin()->string();
  return first != "..";
}

}  // namespace mvb::io
