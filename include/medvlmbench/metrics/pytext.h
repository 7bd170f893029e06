// Python `str` semantics for the text metrics. The reference computes every VQA/caption score in
// Python, where lower(), split() and len() work on Unicode code points; these helpers reproduce
// them on UTF-8 so that scores agree on non-ASCII answers too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mvb::metrics {

// UTF-8 <-> code points. Invalid bytes decode to U+FFFD (one per byte), as Python's
// errors="replace" would, so a malformed prediction is scored rather than rejected.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);

// str.lower(): Unicode simple lower-case mapping plus the one unconditional multi-character
// mapping (U+0130 -> "i" U+0307).
std::u32string py_lower(std::u32string_view s);
std::string py_lower(std::string_view utf8);

// str.isspace() for one code point (the set str.split() splits on).
bool py_isspace(char32_t c);

// str.split() with no argument: runs of whitespace separate, no empty tokens.
std::vector<std::string> py_split(std::string_view utf8);
std::vector<std::u32string> py_split(std::u32string_view s);

// str.strip() with no argument.
std::string py_strip(std::string_view utf8);

}  // namespace mvb::metrics
