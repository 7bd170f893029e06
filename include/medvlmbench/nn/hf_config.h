// Typed reads of Hugging Face config.json values (every model reader: a fractional size is an error, never
// truncated). transformers treats an absent
// key and `null` alike (the class default applies), so both fall back here; a value of the wrong type
// is an error naming the file and the key instead of nlohmann's type_error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/core/error.h"

namespace mvb::nn::hf {

inline bool has(const nlohmann::json& c, const std::string& key) {
  return c.is_object() && c.contains(key) && !c.at(key).is_null();
}

inline int64_t get_int(const nlohmann::json& c, const std::string& key, int64_t fallback, const std::string& where) {
  if (!has(c, key)) return fallback;
  const auto& v = c.at(key);
  // 4096.0 is accepted as an integer (some configs were written by tools that emit floats).
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  MVB_CHECK(v.is_number_integer(), where, ": ", key, " must be an integer (got ", v.dump(), ")");
  return v.get<int64_t>();
}

inline double get_double(const nlohmann::json& c, const std::string& key, double fallback, const std::string& where) {
  if (!has(c, key)) return fallback;
  const auto& v = c.at(key);
  MVB_CHECK(v.is_number(), where, ": ", key, " must be a number (got ", v.dump(), ")");
  return v.get<double>();
}

inline bool get_bool(const nlohmann::json& c, const std::string& key, bool fallback, const std::string& where) {
  if (!has(c, key)) return fallback;
  const auto& v = c.at(key);
  MVB_CHECK(v.is_boolean(), where, ": ", key, " must be true or false (got ", v.dump(), ")");
  return v.get<bool>();
}

inline std::string get_string(const nlohmann::json& c, const std::string& key, const std::string& fallback,
                              const std::string& where) {
  if (!has(c, key)) return fallback;
  const auto& v = c.at(key);
  MVB_CHECK(v.is_string(), where, ": ", key, " must be a string (got ", v.dump(), ")");
  return v.get<std::string>();
}

}  // namespace mvb::nn::hf
