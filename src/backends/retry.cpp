#include "medvlmbench/backends/retry.h"

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "medvlmbench/core/strings.h"

namespace mvb::api {

Outcome classify(const HttpResponse& r) {
  if (!r.network_error.empty()) return Outcome::kRetry;
  if (r.status >= 200 && r.status < 300) return Outcome::kSuccess;
  if (r.status == 408 || r.status == 409 || r.status == 425 || r.status == 429 || r.status >= 500)
    return Outcome::kRetry;
  return Outcome::kFatal;
}

double backoff_delay_s(const RetryPolicy& p, int attempt, std::mt19937_64& rng) {
  const double lo = backoff_lower_bound_s(p, attempt);
  return std::uniform_real_distribution<double>(lo, 2 * lo)(rng);
}

std::optional<double> parse_retry_after(const std::string& value_in, double now_epoch_s) {
  const std::string value = trim(value_in);
  if (value.empty()) return std::nullopt;
  char* end = nullptr;
  const double secs = std::strtod(value.c_str(), &end);
  if (end && *end == '\0') return secs < 0 ? 0.0 : secs;
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  if (!strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) return std::nullopt;
  const double at = static_cast<double>(timegm(&tm));
  return at > now_epoch_s ? at - now_epoch_s : 0.0;
}

double retry_delay_s(const RetryPolicy& p, const HttpResponse& r, int attempt, std::mt19937_64& rng) {
  auto it = r.headers.find("retry-after");
  if (it != r.headers.end()) {
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (auto ra = parse_retry_after(it->second, now)) return *ra < p.max_retry_after_s ? *ra : p.max_retry_after_s;
  }
  return backoff_delay_s(p, attempt, rng);
}

}  // namespace mvb::api
