#include "medvlmbench/metrics/pytext.h"

#include <locale.h>

#include <clocale>
#include <cwctype>

#include "medvlmbench/core/strings.h"

namespace mvb::metrics {
namespace {

// glibc's C.UTF-8 locale carries the Unicode case tables; towlower_l with it gives the simple
// lower-case mapping Python uses (both at Unicode 14 on Debian 12).
locale_t utf8_locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return l;
  }();
  return loc;
}

char32_t lower_one(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  locale_t loc = utf8_locale();
  if (!loc) return c;
  return static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), loc));
}

// Python's _PyUnicode_IsCased / IsCaseIgnorable, approximated from glibc's tables (cased: has a
// case mapping or is a lower/upper letter) and the common case-ignorable characters (apostrophes,
// periods, colons, modifier letters, combining marks). Only the final-sigma rule needs them.
bool is_cased(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  locale_t loc = utf8_locale();
  if (!loc) return false;
  const wint_t w = static_cast<wint_t>(c);
  return iswupper_l(w, loc) || iswlower_l(w, loc) || towlower_l(w, loc) != w || towupper_l(w, loc) != w;
}

bool is_case_ignorable(char32_t c) {
  switch (c) {
    case '\'':
    case '.':
    case ':':
    case '^':
    case '`':
    case 0xA8:
    case 0xAD:
    case 0xAF:
    case 0xB4:
    case 0xB7:
    case 0xB8:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0x37A:
    case 0x384:
    case 0x385:
    case 0x387:
      return true;
    default:
      return (c >= 0x2B0 && c <= 0x36F) || (c >= 0x483 && c <= 0x489) || (c >= 0x591 && c <= 0x5BD) ||
             (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF) ||
             (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFE20 && c <= 0xFE2F);
  }
}

// Capital sigma lower-cases to final sigma U+03C2 when a cased letter precedes it and none
// follows it (case-ignorable characters skipped), as Python's str.lower() does.
char32_t lower_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  char32_t c = 0;
  bool found = false;
  while (j > 0) {
    c = s[--j];
    if (!is_case_ignorable(c)) {
      found = true;
      break;
    }
  }
  bool final_sigma = found && is_cased(c);
  if (final_sigma) {
    for (size_t k = i + 1; k < s.size(); ++k) {
      if (!is_case_ignorable(s[k])) {
        final_sigma = !is_cased(s[k]);
        break;
      }
    }
  }
  return final_sigma ? 0x3C2 : 0x3C3;
}

}  // namespace

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b = p[i];
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0, min = 0;
    if ((b & 0xE0) == 0xC0)
      len = 2, cp = b & 0x1F, min = 0x80;
    else if ((b & 0xF0) == 0xE0)
      len = 3, cp = b & 0x0F, min = 0x800;
    else if ((b & 0xF8) == 0xF0)
      len = 4, cp = b & 0x07, min = 0x10000;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

std::u32string py_lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x3A3) {
      out.push_back(lower_sigma(s, i));
    } else if (c == 0x130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: the only 1->2 lower-case mapping
      out.push_back(U'i');
      out.push_back(0x307);
    } else {
      out.push_back(lower_one(c));
    }
  }
  return out;
}

std::string py_lower(std::string_view utf8) {
  bool ascii = true;
  for (unsigned char c : utf8) ascii &= c < 0x80;
  if (ascii) {
    std::string out(utf8);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
  }
  return utf8_encode(py_lower(utf8_decode(utf8)));
}

bool py_isspace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::vector<std::u32string> py_split(std::u32string_view s) {
  std::vector<std::u32string> out;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    while (i < n && py_isspace(s[i])) ++i;
    size_t j = i;
    while (j < n && !py_isspace(s[j])) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string> py_split(std::string_view utf8) {
  bool ascii = true;
  for (unsigned char c : utf8) ascii &= c < 0x80;
  std::vector<std::string> out;
  if (ascii) {
    size_t i = 0;
    const size_t n = utf8.size();
    while (i < n) {
      while (i < n && py_isspace(static_cast<unsigned char>(utf8[i]))) ++i;
      size_t j = i;
      while (j < n && !py_isspace(static_cast<unsigned char>(utf8[j]))) ++j;
      if (j > i) out.emplace_back(utf8.substr(i, j - i));
      i = j;
    }
    return out;
  }
  for (const auto& w : py_split(utf8_decode(utf8))) out.push_back(utf8_encode(w));
  return out;
}

std::string py_strip(std::string_view utf8) {
  const std::u32string s = utf8_decode(utf8);
  size_t b = 0, e = s.size();
  while (b < e && py_isspace(s[b])) ++b;
  while (e > b && py_isspace(s[e - 1])) --e;
  return utf8_encode(std::u32string_view(s).substr(b, e - b));
}

}  // namespace mvb::metrics
