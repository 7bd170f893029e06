#include "medvlmbench/metrics/choice.h"

#include <pcre2.h>

#include <memory>
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/pytext.h"

namespace mvb::metrics {
namespace {

// A letter class that also takes what Python's case-blind [A-Za-z] takes.
#define MVB_LETTER "[A-Za-z\\x{0131}\\x{017F}\\x{0130}\\x{212A}]"

class Regex {
 public:
  Regex(const char* pattern, uint32_t flags) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | flags,
                          &err, &off, nullptr);
    MVB_CHECK(code_ != nullptr, "internal: bad choice regex at offset ", off);
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Group 1 of the first match, or nullopt.
  std::optional<std::string> first_group(const std::string& subject) const {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
    const int rc =
        pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md.get(), nullptr);
    if (rc < 2) return std::nullopt;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    if (ov[2] == PCRE2_UNSET) return std::nullopt;
    return subject.substr(ov[2], ov[3] - ov[2]);
  }

 private:
  pcre2_code* code_ = nullptr;
};

// Python's str.upper() on the one matched character.
std::string upper_letter(const std::string& utf8) {
  const std::u32string s = utf8_decode(utf8);
  if (s.size() != 1) return utf8;
  const char32_t c = s[0];
  if (c >= U'a' && c <= U'z') return std::string(1, static_cast<char>(c - 32));
  if (c == 0x131) return "I";
  if (c == 0x17F) return "S";
  return utf8;
}

}  // namespace

std::optional<char> extract_choice_letter(std::string_view response, const std::vector<std::string>& choices) {
  static const Regex cue1(
      "(?:final\\s+answer|answer\\s+is|answer|ans|choice|option)\\s*[:\\-]?\\s*[\\(\\[]?\\s*(" MVB_LETTER
      ")\\s*[\\)\\]]?",
      PCRE2_CASELESS);
  static const Regex cue2("(?:correct\\s+answer\\s+is|the\\s+correct\\s+answer\\s+is)\\s*[\\(\\[]?\\s*(" MVB_LETTER
                          ")\\s*[\\)\\]]?",
                          PCRE2_CASELESS);
  static const Regex bracket("[\\(\\[]\\s*([A-Za-z])\\s*[\\)\\]]", 0);
  static const Regex bold("\\*\\*\\s*([A-Za-z])\\s*\\*\\*", 0);
  static const Regex bare("\\b([A-Za-z])\\b", 0);

  // text.strip(), then every whitespace run -> one space (Python's \s is str.isspace()).
  const std::u32string raw = utf8_decode(response);
  std::u32string t;
  size_t b = 0, e = raw.size();
  while (b < e && py_isspace(raw[b])) ++b;
  while (e > b && py_isspace(raw[e - 1])) --e;
  for (size_t i = b; i < e; ++i) {
    if (py_isspace(raw[i])) {
      if (t.empty() || t.back() != U' ') t.push_back(U' ');
    } else {
      t.push_back(raw[i]);
    }
  }
  if (t.empty()) return std::nullopt;
  const std::string text = utf8_encode(t);

  std::set<std::string> valid;
  for (const auto& c : choices)
    for (const auto& cp : utf8_decode(c)) valid.insert(upper_letter(utf8_encode(std::u32string(1, cp))));
  if (valid.empty()) return std::nullopt;

  for (const Regex* re : {&cue1, &cue2, &bracket, &bold, &bare}) {
    if (auto g = re->first_group(text)) {
      const std::string u = upper_letter(*g);
      if (valid.count(u) && u.size() == 1) return u[0];
    }
  }
  return std::nullopt;
}

double mc_accuracy(std::string_view response, std::string_view answer, const std::vector<std::string>& choices) {
  const auto letter = extract_choice_letter(response, choices);
  if (!letter) return 0.0;
  return py_lower(std::string(1, *letter)) == py_lower(answer) ? 1.0 : 0.0;
}

}  // namespace mvb::metrics
