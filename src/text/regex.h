// PCRE2 (UTF + Unicode properties, JIT) behind the one operation the tokenizers need: all
// non-overlapping matches, as byte ranges, in the order Oniguruma's find_iter yields them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mvb::text {

class Regex {
 public:
  // Throws mvb::Error naming the pattern when it does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Matches [start, end) in byte offsets; an empty match advances one character.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

  // A pattern matching `literal` exactly.
  static std::string escape(std::string_view literal);

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

}  // namespace mvb::text
