#include "medvlmbench/backends/response_cache.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "medvlmbench/backends/encoding.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/url_redact.h"
#include "medvlmbench/io/run_layout.h"

namespace mvb::api {

ResponseCache::ResponseCache(std::string dir) : dir_(std::move(dir)) {}

std::string ResponseCache::key(const std::string& endpoint, const std::string& model, const std::string& body) {
  // Length-prefixed fields, so ("ab", "c") and ("a", "bc") cannot collide.
  std::string material = std::to_string(endpoint.size()) + ":" + endpoint + "\n" + std::to_string(model.size()) + ":" +
                         model + "\n" + body;
  return sha256_hex(material);
}

std::string ResponseCache::path_for(const std::string& key) const {
  return dir_ + "/api/" + key.substr(0, 2) + "/" + key + ".json";
}

std::optional<std::string> ResponseCache::get(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  std::ifstream in(path_for(key), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    nlohmann::json entry = nlohmann::json::parse(ss.str());
    if (entry.value("key", "") != key || !entry.contains("response")) return std::nullopt;
    return entry["response"].get<std::string>();
  } catch (const std::exception&) {
    spdlog::warn("ignoring unreadable response-cache entry {}", path_for(key));
    return std::nullopt;
  }
}

void ResponseCache::put(const std::string& key, const std::string& endpoint, const std::string& model,
                        const std::string& response_body) const {
  if (!enabled()) return;
  const std::string path = path_for(key);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  MVB_CHECK(!ec, "cannot create the response cache folder ", std::filesystem::path(path).parent_path().string(), ": ",
            ec.message(), "; pass a writable --cache_dir or --no_cache");
  {
    // Once per folder and process: temp files of writers killed between write and rename.
    static std::mutex mu;
    static std::set<std::string> cleaned;
    const std::string folder = std::filesystem::path(path).parent_path().string();
    std::lock_guard<std::mutex> lock(mu);
    if (cleaned.insert(folder).second) io::remove_stale_temp_files(folder);
  }
  const nlohmann::json entry = {{"key", key},
                                {"endpoint", strip_url_credentials(endpoint)},  // never credentials on disk
                                {"model", model},
                                {"saved_at", static_cast<int64_t>(std::time(nullptr))},
                                {"response", response_body}};
  // Unique temp name per thread: two identical requests in one batch may finish together.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary);
    out << entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!out) {
      spdlog::warn("could not write response-cache entry {}", path);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) spdlog::warn("could not store response-cache entry {}: {}", path, ec.message());
}

}  // namespace mvb::api
