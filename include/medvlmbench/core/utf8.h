// UTF-8 validation and Python-compatible repair of text read from datasets and file names.
#pragma once

#include <string>
#include <string_view>

namespace mvb {

// Length of the valid UTF-8 sequence starting at s[pos] (1..4), or 0 when the bytes there are not
// one; an invalid sequence's maximal valid prefix length is put in *invalid_len (at least 1), the unit
// Python's decode(errors=...) replaces as one.
size_t utf8_sequence_length(std::string_view s, size_t pos, size_t* invalid_len = nullptr);
bool is_valid_utf8(std::string_view s);
// Python's bytes.decode("utf-8", errors="replace"): each invalid sequence becomes U+FFFD. Text read
// from datasets goes through this, so no JSON writer or HTTP body ever meets invalid UTF-8.
std::string utf8_replace_invalid(std::string_view s);
// Python's errors="backslashreplace": each invalid byte becomes the four characters \xNN. Keeps
// distinct byte strings distinct (sample ids made from non-UTF-8 file names), unlike replace.
std::string utf8_escape_invalid(std::string_view s);

}  // namespace mvb
