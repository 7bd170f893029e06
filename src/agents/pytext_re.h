// The few pieces of Python `re` / `str` the reference's agent wrappers use, on UTF-8 text (private to
// src/agents). Python matches on code points: `\s` is str.isspace(), `\w` (hence `\b`) is a letter,
// digit or "_" in Unicode, and IGNORECASE folds case. Here `\s` is exact (metrics::py_isspace),
// `\w` is ASCII letters/digits/"_" plus every non-ASCII code point that is not whitespace, a combining
// mark or in a punctuation/symbol block (see py_word_char), and case folding is ASCII-only on the
// keywords matched (they are all ASCII).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mvb::agents::pyre {

bool py_word_char(char32_t c);

// Code point string helpers.
std::u32string u32(std::string_view utf8);
std::string utf8(std::u32string_view s);

// `\b` at position `i` of `s` (between s[i-1] and s[i]).
bool word_boundary(const std::u32string& s, size_t i);

// ASCII case-insensitive match of `word` (ASCII) at s[i...].
bool match_ci(const std::u32string& s, size_t i, std::string_view word);

// re.search(r"\b(yes|no)\b", s, re.I): the matched text, or nullopt.
std::optional<std::u32string> search_yes_no(const std::u32string& s);

// re.search(r"\b([A-Z])\b", s): the letter, or nullopt (case-sensitive, ASCII capitals).
std::optional<char32_t> search_single_capital(const std::u32string& s);

// str.upper() for the purpose of finding ASCII capitals: ASCII letters, plus the two non-ASCII
// letters whose upper case is ASCII (U+0131 dotless i -> I, U+017F long s -> S).
std::u32string upper_for_letters(const std::u32string& s);

}  // namespace mvb::agents::pyre
