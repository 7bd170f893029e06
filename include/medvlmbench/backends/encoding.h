// Encodings the API backends need: base64 for inline images and SHA-256 for response-cache keys.
// Written here (a few dozen lines each) so that no crypto library has to be linked for them.
#pragma once

#include <string>
#include <string_view>

namespace mvb::api {

// Standard base64 (RFC 4648, with '=' padding), as in data URLs and Gemini inline_data.
std::string base64_encode(std::string_view bytes);
// Inverse of base64_encode; throws mvb::Error on characters outside the alphabet.
std::string base64_decode(std::string_view text);
// Lowercase hex SHA-256 digest (FIPS 180-4).
std::string sha256_hex(std::string_view bytes);

}  // namespace mvb::api
