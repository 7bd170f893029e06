// Client-side rate limits: requests per minute and tokens per minute, as providers publish them.
// Two token buckets holding at most one minute's allowance; a request waits until both have room.
// reserve() is pure bookkeeping on a given clock, so it is tested without sleeping.
#pragma once

#include <chrono>
#include <mutex>

namespace mvb::api {

class RateLimiter {
 public:
  // 0 disables a limit.
  RateLimiter(double requests_per_min, double tokens_per_min);

  // Reserves one request with `tokens` estimated tokens at time `now_s` (any monotonic seconds);
  // returns how long the caller must wait before sending (0 when it may go at once).
  double reserve(double tokens, double now_s);
  // Corrects the token bucket once the real usage is known (actual - estimated; may be negative).
  void adjust_tokens(double delta);
  // reserve() at the steady clock, then sleep.
  void acquire(double tokens);
  bool enabled() const { return rpm_ > 0 || tpm_ > 0; }

 private:
  void refill(double now_s);
  double rpm_, tpm_;
  double req_level_, tok_level_;  // available allowance; negative = reserved ahead of time
  double last_s_ = -1;
  std::mutex mu_;
};

}  // namespace mvb::api
