// When and how long to wait before retrying an API request: exponential backoff with jitter on
// 429, 5xx and network failures, honouring the server's Retry-After. Pure functions, so the bounds
// are tested without sleeping.
#pragma once

#include <optional>
#include <random>
#include <string>

#include "medvlmbench/backends/http_client.h"

namespace mvb::api {

struct RetryPolicy {
  int max_retries = 6;             // attempts = max_retries + 1
  double base_delay_s = 1.0;       // first backoff
  double max_delay_s = 60.0;       // cap of one backoff
  double max_retry_after_s = 600;  // a longer Retry-After is clamped to this
};

enum class Outcome { kSuccess, kRetry, kFatal };

// Classifies a response: 2xx success; 408/409/425/429/5xx and network errors retry; other 4xx are
// fatal (a bad request does not get better by resending it).
Outcome classify(const HttpResponse& r);

// Backoff before retry number `attempt` (0 = first retry): d = min(max, base * 2^attempt), drawn
// uniformly from [d/2, d] ("equal jitter": spreads a burst of clients, never waits less than d/2).
double backoff_delay_s(const RetryPolicy& p, int attempt, std::mt19937_64& rng);
inline double backoff_lower_bound_s(const RetryPolicy& p, int attempt) {
  double d = p.base_delay_s;
  for (int i = 0; i < attempt && d < p.max_delay_s; ++i) d *= 2;
  return (d < p.max_delay_s ? d : p.max_delay_s) / 2;
}
inline double backoff_upper_bound_s(const RetryPolicy& p, int attempt) { return 2 * backoff_lower_bound_s(p, attempt); }

// Retry-After as delta-seconds ("12", "1.5") or an HTTP date; nullopt when absent or unreadable.
std::optional<double> parse_retry_after(const std::string& value, double now_epoch_s);

// The delay before the next attempt: Retry-After when the server sent one (clamped), else backoff.
double retry_delay_s(const RetryPolicy& p, const HttpResponse& r, int attempt, std::mt19937_64& rng);

}  // namespace mvb::api
