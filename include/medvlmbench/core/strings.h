// Small string helpers shared across areas.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mvb {

std::string to_lower(std::string_view s);
std::string trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Every occurrence of `from` (non-empty) replaced by `to`, scanning left to right like Python's str.replace.
std::string replace_all(std::string s, std::string_view from, std::string_view to);

// Appends the UTF-8 encoding of code point `cp` (shared by the tokenizers and the metrics).
void append_utf8(std::string& out, char32_t cp);

// Levenshtein distance, case-insensitive; used to suggest the closest valid name.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `name` if it is plausibly a typo of it, else "".
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace mvb
