#include "medvlmbench/backends/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace mvb::api {

RateLimiter::RateLimiter(double rpm, double tpm) : rpm_(rpm), tpm_(tpm), req_level_(rpm), tok_level_(tpm) {}

void RateLimiter::refill(double now_s) {
  if (last_s_ < 0) last_s_ = now_s;
  const double dt = std::max(0.0, now_s - last_s_);
  last_s_ = std::max(last_s_, now_s);
  if (rpm_ > 0) req_level_ = std::min(rpm_, req_level_ + dt * rpm_ / 60.0);
  if (tpm_ > 0) tok_level_ = std::min(tpm_, tok_level_ + dt * tpm_ / 60.0);
}

double RateLimiter::reserve(double tokens, double now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  refill(now_s);
  double wait = 0;
  if (rpm_ > 0) {
    req_level_ -= 1;
    if (req_level_ < 0) wait = std::max(wait, -req_level_ * 60.0 / rpm_);
  }
  if (tpm_ > 0) {
    // A single request larger than the whole minute's allowance still goes, after a full minute.
    tok_level_ -= std::min(tokens, tpm_);
    if (tok_level_ < 0) wait = std::max(wait, -tok_level_ * 60.0 / tpm_);
  }
  return wait;
}

void RateLimiter::adjust_tokens(double delta) {
  if (tpm_ <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  tok_level_ = std::min(tpm_, tok_level_ - delta);
}

void RateLimiter::acquire(double tokens) {
  if (!enabled()) return;
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  const double wait = reserve(tokens, now);
  if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
}

}  // namespace mvb::api
