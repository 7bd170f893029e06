// Error types and checks. Every user-facing failure is one of two kinds, which decide the exit code:
// UsageError (bad flags, unknown names, bad config: exit 2) and Error (runtime: missing or corrupt
// files, failed I/O: exit 1). Messages are one line, name the offending value and say how to fix it.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mvb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace mvb

// MVB_CHECK(cond, parts...) throws mvb::Error with the concatenated message when cond is false,
// in the spirit of TORCH_CHECK.
#define MVB_CHECK(cond, ...)                                             \
  do {                                                                   \
    if (!(cond)) throw ::mvb::Error(::mvb::detail::concat(__VA_ARGS__)); \
  } while (0)

#define MVB_USAGE_CHECK(cond, ...)                                            \
  do {                                                                        \
    if (!(cond)) throw ::mvb::UsageError(::mvb::detail::concat(__VA_ARGS__)); \
  } while (0)
