// Issue 18, defect 7: --api_base with user:password@ reached run.json's config (and argv) verbatim.
#include "medvlmbench/core/url_redact.h"

#include <gtest/gtest.h>

#include "medvlmbench/core/run_config.h"

namespace mvb {
namespace {

TEST(UrlRedact, StripsUserinfoFromEveryUrlAndLeavesTheRest) {
  EXPECT_EQ(strip_url_credentials("https://alice:s3cret@api.example.com/v1"), "https://api.example.com/v1");
  EXPECT_EQ(strip_url_credentials("--api_base=http://u:p@h:8000"), "--api_base=http://h:8000");
  EXPECT_EQ(strip_url_credentials("http://h/v1/u@x?q=a@b"), "http://h/v1/u@x?q=a@b");  // '@' in the path stays
  EXPECT_EQ(strip_url_credentials("a http://x:y@h/ and https://z@k/p"), "a http://h/ and https://k/p");
  EXPECT_EQ(strip_url_credentials("no url here"), "no url here");
  EXPECT_EQ(strip_url_credentials(std::vector<std::string>{"--api_base", "http://u:p@h/v1"})[1], "http://h/v1");
}

TEST(UrlRedact, RunConfigJsonCarriesNoCredentials) {
  RunConfig c;
  c.api_base = "https://alice:s3cret@api.example.com/v1";
  c.judge_api_base = "http://bob:hunter2@judge.local:8000/v1";
  const std::string dumped = c.to_json().dump();
  EXPECT_EQ(dumped.find("s3cret"), std::string::npos) << dumped;
  EXPECT_EQ(dumped.find("hunter2"), std::string::npos) << dumped;
  EXPECT_NE(dumped.find("https://api.example.com/v1"), std::string::npos) << dumped;
  // The model still gets the credentials it needs to talk to the server.
  EXPECT_EQ(c.model_options()["api_base"], c.api_base);
}

}  // namespace
}  // namespace mvb
