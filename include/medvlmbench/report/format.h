// Text helpers of the report writers: escaping for HTML/XML and Markdown (model output is arbitrary
// bytes: invalid UTF-8 and control characters must not break either), base64, number formatting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mvb::report {

// Valid UTF-8 with invalid sequences replaced by U+FFFD and control characters (other than tab and
// newline) by U+FFFD too, so the text is legal in XML 1.0; at most `max_bytes` bytes (cut at a
// character boundary, "…" appended) when max_bytes > 0.
std::string clean_text(const std::string& s, size_t max_bytes = 0);
// clean_text + &, <, >, ", ' escaped: safe in HTML/XML text and attribute values.
std::string html_escape(const std::string& s, size_t max_bytes = 0);
// clean_text on one line (newlines become spaces) with |, \, `, *, _, <, >, [, ] escaped: safe in a
// Markdown table cell.
std::string md_escape(const std::string& s, size_t max_bytes = 0);
std::string base64(const std::vector<uint8_t>& bytes);
// Fixed-point with `digits` decimals ("0.8333"); "n/a" for NaN.
std::string fixed(double v, int digits = 4);
// The shortest text that reads back as the same double ("%.17g").
std::string exact(double v);

}  // namespace mvb::report
