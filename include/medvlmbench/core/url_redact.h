// Credentials in URLs ("https://user:password@host/v1") must never reach a written file (run.json's argv
// and config, response-cache entries, logs): issue 18, defect 7. Header-only so every writer can use it.
#pragma once

#include <string>
#include <vector>

namespace mvb {

// Removes the "user:password@" part of every URL in `text` (a bare URL, or one inside an argument such as
// "--api_base=https://u:p@host/v1"). The authority ends at '/', '?', '#', whitespace or the end of the text;
// an '@' after that (in a path or query) is left alone.
inline std::string strip_url_credentials(std::string text) {
  size_t pos = 0;
  while ((pos = text.find("://", pos)) != std::string::npos) {
    const size_t start = pos + 3;
    size_t end = text.find_first_of("/?# \t\r\n", start);
    if (end == std::string::npos) end = text.size();
    const size_t at = text.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start && at < end) text.erase(start, at + 1 - start);
    pos = start;
  }
  return text;
}

inline std::vector<std::string> strip_url_credentials(std::vector<std::string> args) {
  for (auto& a : args) a = strip_url_credentials(a);
  return args;
}

}  // namespace mvb
