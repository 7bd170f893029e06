// Issue 18, defect 7: every response-cache entry stored the endpoint URL with its user:password@.
#include <gtest/gtest.h>

#include "medvlmbench/backends/response_cache.h"
#include "support/test_support.h"

namespace mvb::api {
namespace {

TEST(ResponseCacheRedact, EntryStoresNoUrlCredentials) {
  test::TempDir dir;
  ResponseCache cache(dir.path());
  cache.put("k1", "https://alice:s3cret@api.example.com/v1/chat/completions", "m", "{\"ok\":true}");
  const std::string text = test::read_text(cache.path_for("k1"));
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_EQ(text.find("alice"), std::string::npos) << text;
  EXPECT_NE(text.find("https://api.example.com/v1/chat/completions"), std::string::npos) << text;
  EXPECT_EQ(cache.get("k1").value_or(""), "{\"ok\":true}");
}

}  // namespace
}  // namespace mvb::api
