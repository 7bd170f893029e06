#include "pytext_re.h"

#include "medvlmbench/metrics/pytext.h"

namespace mvb::agents::pyre {

bool py_word_char(char32_t c) {
  if (c < 0x80) return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (metrics::py_isspace(c)) return false;
  // Latin-1 punctuation and symbols, except the letters/digits among them (ª ² ³ µ ¹ º ¼ ½ ¾).
  if (c <= 0xBF)
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || c == 0xBC || c == 0xBD ||
           c == 0xBE;
  if (c == 0xD7 || c == 0xF7) return false;                           // × ÷
  if (c >= 0x0300 && c <= 0x036F) return false;                       // combining marks (str.isalnum() is False)
  if (c >= 0x2000 && c <= 0x206F) return false;                       // general punctuation (– — ’ “ • …)
  if (c >= 0x20A0 && c <= 0x20CF) return false;                       // currency
  if (c >= 0x2190 && c <= 0x23FF) return false;                       // arrows, maths operators, technical
  if (c >= 0x2500 && c <= 0x2BFF) return false;                       // box drawing, shapes, dingbats, symbols
  if (c >= 0x2E00 && c <= 0x2E7F) return false;                       // supplemental punctuation
  if (c >= 0x3000 && c <= 0x303F) return c == 0x3005 || c == 0x3007;  // CJK punctuation (々 〇 are alnum)
  if (c >= 0xFE30 && c <= 0xFE4F) return false;                       // CJK compatibility forms
  if ((c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
      (c >= 0xFF5B && c <= 0xFF65))
    return false;  // fullwidth punctuation
  if (c == 0xFFFD) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji and pictographs
  return true;
}

std::u32string u32(std::string_view utf8) { return metrics::utf8_decode(utf8); }
std::string utf8(std::u32string_view s) { return metrics::utf8_encode(s); }

bool word_boundary(const std::u32string& s, size_t i) {
  const bool before = i > 0 && py_word_char(s[i - 1]);
  const bool after = i < s.size() && py_word_char(s[i]);
  return before != after;
}

bool match_ci(const std::u32string& s, size_t i, std::string_view word) {
  if (i + word.size() > s.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    char32_t c = s[i + k];
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    char w = word[k];
    if (w >= 'A' && w <= 'Z') w += 'a' - 'A';
    if (c != static_cast<char32_t>(w)) return false;
  }
  return true;
}

std::optional<std::u32string> search_yes_no(const std::u32string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!word_boundary(s, i)) continue;
    // The alternation tries "yes" before "no" at each position.
    for (std::string_view w : {std::string_view("yes"), std::string_view("no")})
      if (match_ci(s, i, w) && word_boundary(s, i + w.size())) return s.substr(i, w.size());
  }
  return std::nullopt;
}

std::optional<char32_t> search_single_capital(const std::u32string& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] >= 'A' && s[i] <= 'Z' && word_boundary(s, i) && word_boundary(s, i + 1)) return s[i];
  return std::nullopt;
}

std::u32string upper_for_letters(const std::u32string& s) {
  std::u32string out = s;
  for (char32_t& c : out) {
    if (c >= 'a' && c <= 'z')
      c -= 'a' - 'A';
    else if (c == 0x0131)
      c = 'I';
    else if (c == 0x017F)
      c = 'S';
  }
  return out;
}

}  // namespace mvb::agents::pyre
