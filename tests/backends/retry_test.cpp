// Retry classification, backoff bounds, Retry-After parsing and the rate limiter's bookkeeping,
// all without sleeping (delays are computed, never timed).
#include "medvlmbench/backends/retry.h"

#include <gtest/gtest.h>

#include "medvlmbench/backends/rate_limiter.h"

namespace mvb::api {
namespace {

HttpResponse status(int s) {
  HttpResponse r;
  r.status = s;
  return r;
}

TEST(Retry, ClassifiesStatusesAndNetworkErrors) {
  EXPECT_EQ(classify(status(200)), Outcome::kSuccess);
  for (int s : {408, 409, 425, 429, 500, 502, 503, 504, 529}) EXPECT_EQ(classify(status(s)), Outcome::kRetry) << s;
  for (int s : {400, 401, 403, 404, 413, 422}) EXPECT_EQ(classify(status(s)), Outcome::kFatal) << s;
  HttpResponse net;
  net.network_error = "Connection reset by peer";
  EXPECT_EQ(classify(net), Outcome::kRetry);
}

TEST(Retry, BackoffDoublesWithinJitterBoundsAndIsCapped) {
  RetryPolicy p;
  p.base_delay_s = 0.5;
  p.max_delay_s = 8;
  std::mt19937_64 rng(1);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double cap = std::min(8.0, 0.5 * std::pow(2.0, attempt));
    EXPECT_DOUBLE_EQ(backoff_upper_bound_s(p, attempt), cap);
    EXPECT_DOUBLE_EQ(backoff_lower_bound_s(p, attempt), cap / 2);
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      const double d = backoff_delay_s(p, attempt, rng);
      ASSERT_GE(d, cap / 2);
      ASSERT_LE(d, cap);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Jitter really spreads the delays over the interval.
    EXPECT_LT(lo, cap * 0.55) << attempt;
    EXPECT_GT(hi, cap * 0.95) << attempt;
  }
}

TEST(Retry, RetryAfterSecondsAndHttpDate) {
  EXPECT_DOUBLE_EQ(*parse_retry_after("12", 0), 12.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after(" 1.5 ", 0), 1.5);
  // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
  EXPECT_DOUBLE_EQ(*parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0), 10.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490.0), 0.0);
  EXPECT_FALSE(parse_retry_after("soon", 0).has_value());
  EXPECT_FALSE(parse_retry_after("", 0).has_value());

  RetryPolicy p;
  p.max_retry_after_s = 30;
  std::mt19937_64 rng(2);
  HttpResponse r = status(429);
  r.headers["retry-after"] = "7";
  EXPECT_DOUBLE_EQ(retry_delay_s(p, r, 0, rng), 7.0);  // the server's word, not our backoff
  r.headers["retry-after"] = "3600";
  EXPECT_DOUBLE_EQ(retry_delay_s(p, r, 0, rng), 30.0);  // clamped
  r.headers.clear();
  const double d = retry_delay_s(p, r, 2, rng);
  EXPECT_GE(d, backoff_lower_bound_s(p, 2));
  EXPECT_LE(d, backoff_upper_bound_s(p, 2));
}

TEST(RateLimiter, RequestsPerMinute) {
  RateLimiter rl(60, 0);  // one per second, burst of 60
  double t = 1000;
  for (int i = 0; i < 60; ++i) EXPECT_DOUBLE_EQ(rl.reserve(0, t), 0.0) << i;
  EXPECT_NEAR(rl.reserve(0, t), 1.0, 1e-9);  // the 61st waits one refill interval
  EXPECT_NEAR(rl.reserve(0, t), 2.0, 1e-9);
  // Ten seconds later, ten more slots have refilled, two of them already promised.
  EXPECT_NEAR(rl.reserve(0, t + 10), 0.0, 1e-9);
}

TEST(RateLimiter, TokensPerMinuteWithCorrection) {
  RateLimiter rl(0, 6000);  // 100 tokens per second
  EXPECT_DOUBLE_EQ(rl.reserve(5000, 0), 0.0);
  EXPECT_NEAR(rl.reserve(2000, 0), 10.0, 1e-9);  // 1000 short -> 10 s
  rl.adjust_tokens(-3000);                       // the first request used 3000 fewer than estimated
  EXPECT_NEAR(rl.reserve(1000, 0), 0.0, 1e-9);
  EXPECT_NEAR(rl.reserve(1000, 0), 0.0, 1e-9);  // exactly used up
  EXPECT_NEAR(rl.reserve(1000, 0), 10.0, 1e-9);
  RateLimiter off(0, 0);
  EXPECT_FALSE(off.enabled());
  EXPECT_DOUBLE_EQ(off.reserve(1e9, 0), 0.0);
}

}  // namespace
}  // namespace mvb::api
