// UTF-8 and Unicode character facts the tokenizers need, with the semantics of Rust's `char`
// methods (what Hugging Face `tokenizers` uses). Normalization, categories and case mapping come
// from ICU; ASCII takes fast paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "medvlmbench/core/strings.h"

namespace mvb::text::uni {

// Decodes the code point at s[i] and advances i. Invalid bytes decode as U+FFFD (one byte each).
char32_t next_cp(std::string_view s, size_t& i);
using ::mvb::append_utf8;  // core/strings.h
std::string to_utf8(char32_t cp);
// Replaces invalid UTF-8 sequences with U+FFFD (what a Rust &str / JS string would hold).
std::string sanitize_utf8(std::string_view s);
bool is_ascii(std::string_view s);
size_t count_chars(std::string_view s);

// Rust char::is_whitespace (White_Space property).
bool is_whitespace(char32_t c);
// Rust char::is_alphanumeric (Alphabetic || Numeric).
bool is_alphanumeric(char32_t c);
// Rust char::is_numeric (general category Nd, Nl, No).
bool is_numeric(char32_t c);
// General category groups.
bool is_control_or_other(char32_t c);  // C* (Cc, Cf, Cn, Co, Cs)
bool is_punctuation(char32_t c);       // P*
bool is_mark_nonspacing(char32_t c);   // Mn
// BERT's punctuation: ASCII symbols 33-47, 58-64, 91-96, 123-126, or P*.
bool is_bert_punctuation(char32_t c);
// BERT's CJK ideograph ranges.
bool is_chinese_char(char32_t c);

enum class NormForm { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view s, NormForm form);
// Rust's NormalizedString::lowercase: each char through char::to_lowercase (full mapping, no context).
std::string lowercase(std::string_view s);
// Python's str.lower(): full lowercasing with context (a final capital sigma becomes U+03C2).
std::string python_lower(std::string_view s);

}  // namespace mvb::text::uni
