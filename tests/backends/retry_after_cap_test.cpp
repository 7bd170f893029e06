// Issue 18, defect 8: a server's Retry-After was clamped to a hard-coded 600 s with no option and no
// message. The cap is now the api_max_retry_after_s model option; the wait is logged and counted.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "fake_api_server.h"
#include "medvlmbench/backends/api_model.h"
#include "medvlmbench/backends/encoding.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/models/model.h"
#include "support/test_support.h"

namespace mvb::api {
namespace {

TEST(RetryAfterCap, LongRetryAfterIsClampedToTheOption) {
  test::TempDir dir;
  test::FakeApiServer server;
  RgbImage img;
  img.width = img.height = 2;
  img.pixels.assign(12, 128);
  const std::string image = dir / "img.png";
  test::write_text(image, png_bytes(img));
  setenv("MVB_API_KEY", "sk-test-retry-after", 1);
  server.retry_after = "30";  // before the fix this test waited the full 30 s (cap 600)
  server.push_faults({test::Fault::k429});
  ModelSpec spec;
  spec.name = "openai-compatible";
  spec.model_path = "original_pretrained";
  spec.options = {{"api_base", server.openai_base()},
                  {"api_model", "fake-vlm"},
                  {"no_cache", true},
                  {"api_retries", 2},
                  {"api_max_retry_after_s", 0.2}};
  auto m = model_registry().get(spec.name).factory(spec);
  auto* g = dynamic_cast<GenerativeModel*>(m.get());
  ASSERT_NE(g, nullptr);
  GenerationRequest r;
  r.prompt = "What organ is shown?";
  r.images = {ImageRef::file(image)};
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = g->generate({r});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(out[0].error, "");
  ASSERT_EQ(out[0].extra["retry_delays_s"].size(), 1u);
  EXPECT_DOUBLE_EQ(out[0].extra["retry_delays_s"][0].get<double>(), 0.2) << "Retry-After: 30 clamped to the option";
  EXPECT_LT(took, 10.0);
  auto* api = dynamic_cast<ApiModel*>(g);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->stats().retries, 1);  // the resent request is counted (run.json api_usage)
}

}  // namespace
}  // namespace mvb::api
