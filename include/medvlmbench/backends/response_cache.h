// Persistent cache of successful API responses, so a re-run or a resumed run never pays twice.
// Key: SHA-256 of (endpoint URL, model id, full request body); the body holds the prompt and the
// base64 image, so any change to either is a miss. One JSON file per entry under
// <cache_dir>/api/<key[0:2]>/<key>.json, written atomically. API keys travel in headers and are
// never part of the key or the stored entry.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace mvb::api {

class ResponseCache {
 public:
  // An empty dir disables the cache.
  explicit ResponseCache(std::string dir);
  bool enabled() const { return !dir_.empty(); }
  static std::string key(const std::string& endpoint, const std::string& model, const std::string& body);
  // The stored response body (the provider's JSON), or nullopt on a miss or an unreadable entry.
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& endpoint, const std::string& model,
           const std::string& response_body) const;
  std::string path_for(const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace mvb::api
