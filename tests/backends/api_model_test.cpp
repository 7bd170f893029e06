// The API backends against the loopback server: request shape (headers, body, image encoding),
// retries through every injected fault, error results once retries run out, order under
// concurrency, cache hits on re-run, and keys that never leak.
#include "medvlmbench/backends/api_model.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "fake_api_server.h"
#include "medvlmbench/backends/encoding.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/models/model.h"
#include "support/test_support.h"

namespace mvb::api {
namespace {

constexpr const char* kKey = "sk-test-4f1c9e0b7d2a-SECRET";

// A small RGB image with distinct pixels, written as PNG.
RgbImage test_image() {
  RgbImage img;
  img.width = 7;
  img.height = 5;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      for (int c = 0; c < 3; ++c) img.pixels.push_back(static_cast<uint8_t>(x * 31 + y * 17 + c * 80));
  return img;
}

struct Fixture {
  test::TempDir dir;
  test::FakeApiServer server;
  std::string image;
  Fixture() {
    image = dir / "img.png";
    test::write_text(image, png_bytes(test_image()));
    setenv("MVB_API_KEY", kKey, 1);
    setenv("OPENAI_API_KEY", kKey, 1);
    setenv("GEMINI_API_KEY", kKey, 1);
  }
  std::unique_ptr<GenerativeModel> model(const std::string& name, nlohmann::json options) {
    ModelSpec spec;
    spec.name = name;
    spec.model_path = "original_pretrained";
    spec.options = std::move(options);
    auto m = model_registry().get(name).factory(spec);
    auto* g = dynamic_cast<GenerativeModel*>(m.release());
    EXPECT_NE(g, nullptr);
    return std::unique_ptr<GenerativeModel>(g);
  }
  nlohmann::json compat(nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json o = {{"api_base", server.openai_base()},
                        {"api_model", "fake-vlm"},
                        {"no_cache", true},
                        {"api_retry_base_s", 0.01},
                        {"api_retry_max_s", 0.05}};
    o.update(extra);
    return o;
  }
  GenerationRequest request(const std::string& prompt) {
    GenerationRequest r;
    r.prompt = prompt;
    r.images = {ImageRef::file(image)};
    return r;
  }
};

TEST(ApiModel, ChatRequestShapeAndImageEncoding) {
  Fixture f;
  auto m = f.model("openai-compatible", f.compat());
  const auto out = m->generate({f.request("What organ is shown?")});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].error, "");
  EXPECT_EQ(out[0].text, "answer to: What organ is shown?");  // the reply's whitespace is stripped
  EXPECT_EQ(out[0].prompt_tokens, 4 + 11 + 100);              // words of the prompt with the suffix, + 100
  EXPECT_GT(out[0].completion_tokens, 0);
  const auto reqs = f.server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].header("Authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(reqs[0].header("Content-Type"), "application/json");
  const auto body = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(body["model"], "fake-vlm");
  const auto& content = body["messages"][0]["content"];
  EXPECT_EQ(content[0]["text"],
            "What organ is shown?\n\nPlease answer the question concisely in no more than 2 sentences.");
  EXPECT_EQ(out[0].extra["prompt"], content[0]["text"]);
  const std::string url = content[1]["image_url"]["url"];
  const std::string prefix = "data:image/png;base64,";
  ASSERT_EQ(url.substr(0, prefix.size()), prefix);
  // The PNG the server received decodes (with PIL, not our code) to exactly the source pixels.
  const std::string png = base64_decode(url.substr(prefix.size()));
  test::write_text(f.dir / "sent.png", png);
  const auto py = test::run_oracle_script(test::OracleInterpreter::kDebianPython, "backends/encoding_oracle.py",
                                          {"png", f.dir / "sent.png"});
  const RgbImage src = test_image();
  EXPECT_EQ(py.out, "PNG RGB 7 5 " + sha256_hex(std::string(src.pixels.begin(), src.pixels.end())) + "\n");
}

TEST(ApiModel, ResponsesAndGeminiRequests) {
  Fixture f;
  auto o3 = f.model("o3", {{"api_base", f.server.openai_base()}, {"no_cache", true}});
  auto r = o3->generate({f.request("Is it normal? Answer with yes or no.")});
  ASSERT_EQ(r[0].error, "");
  EXPECT_EQ(r[0].text, "yes");
  EXPECT_EQ(r[0].extra["reasoning_tokens"], 7);
  auto gem = f.model("gemini-2.5-pro", {{"api_base", f.server.gemini_base()}, {"no_cache", true}});
  auto g = gem->generate({f.request("Describe.")});
  ASSERT_EQ(g[0].error, "");
  const auto reqs = f.server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].path, "/v1/responses");
  const auto rb = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(rb["model"], "o3");  // the real id, not the reference's proxy substitution
  EXPECT_EQ(rb["input"][0]["content"][1]["type"], "input_image");
  EXPECT_EQ(reqs[0].header("Authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(reqs[1].path, "/v1beta/models/gemini-2.5-pro:generateContent");
  EXPECT_EQ(reqs[1].header("x-goog-api-key"), kKey);
  EXPECT_EQ(reqs[1].header("Authorization"), "");
  const auto gb = nlohmann::json::parse(reqs[1].body);
  EXPECT_EQ(gb["contents"][0]["parts"][1]["inline_data"]["mime_type"], "image/png");
  EXPECT_EQ(g[0].completion_tokens, 3 + 5);  // "answer to: Describe." + 5 thinking tokens
}

TEST(ApiModel, RetriesThroughEveryFaultWithinBackoffBounds) {
  Fixture f;
  f.server.slow_s = 1.5;
  f.server.retry_after = "1";
  f.server.push_faults(
      {test::Fault::k429, test::Fault::k500, test::Fault::kMalformed, test::Fault::kTruncated, test::Fault::kSlow});
  auto m = f.model("openai-compatible", f.compat({{"api_timeout_s", 0.5}, {"api_retries", 6}}));
  const auto out = m->generate({f.request("What organ is shown?")});
  ASSERT_EQ(out[0].error, "") << "all faults are retryable";
  EXPECT_EQ(out[0].extra["attempts"], 6);
  EXPECT_EQ(f.server.request_count(), 6u);
  const auto delays = out[0].extra["retry_delays_s"];
  ASSERT_EQ(delays.size(), 5u);
  EXPECT_DOUBLE_EQ(delays[0].get<double>(), 1.0) << "Retry-After is honoured";
  RetryPolicy p;
  p.base_delay_s = 0.01;
  p.max_delay_s = 0.05;
  for (int a = 1; a < 5; ++a) {
    EXPECT_GE(delays[a].get<double>(), backoff_lower_bound_s(p, a)) << a;
    EXPECT_LE(delays[a].get<double>(), backoff_upper_bound_s(p, a)) << a;
  }
  auto* api = dynamic_cast<ApiModel*>(m.get());
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->stats().retries, 5);
  EXPECT_EQ(api->stats().http_requests, 6);
}

TEST(ApiModel, ErrorResultWhenRetriesRunOutAndTheRestCarryOn) {
  Fixture f;
  f.server.push_faults({test::Fault::k500, test::Fault::k500, test::Fault::k500});
  auto m = f.model("openai-compatible", f.compat({{"api_retries", 2}, {"api_concurrency", 1}}));
  const auto out = m->generate({f.request("first"), f.request("second")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].error, "failed after 3 attempts; last error: HTTP 500: internal error");
  EXPECT_EQ(out[1].error, "");
  EXPECT_EQ(out[1].text, "answer to: second");
  EXPECT_EQ(f.server.request_count(), 4u);
}

TEST(ApiModel, ConnectionResetsAreRetriedThenReported) {
  Fixture f;
  test::ResetServer reset;
  auto m = f.model("openai-compatible", f.compat({{"api_base", reset.base()}, {"api_retries", 2}}));
  const auto out = m->generate({f.request("q")});
  EXPECT_NE(out[0].error.find("failed after 3 attempts; last error: network error"), std::string::npos) << out[0].error;
  EXPECT_EQ(reset.connections(), 3);
}

TEST(ApiModel, ResultsKeepRequestOrderUnderConcurrency) {
  Fixture f;
  // Later requests answer sooner, so completion order is the reverse of request order.
  f.server.delay_s = [](const std::string& p) {
    const int i = std::stoi(p.substr(1, p.find(' ') - 1));
    return 0.002 * (40 - i);
  };
  auto m = f.model("openai-compatible", f.compat({{"api_concurrency", 8}}));
  std::vector<GenerationRequest> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(f.request("q" + std::to_string(i) + " yes or no"));
  for (auto& r : batch) r.images.clear();
  f.server.answer = [](const std::string& p) { return p.substr(0, p.find(' ')); };
  const auto out = m->generate(batch);
  ASSERT_EQ(out.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(out[i].text, "q" + std::to_string(i));
  EXPECT_GT(f.server.max_in_flight(), 1) << "requests were not sent in parallel";
  EXPECT_LE(f.server.max_in_flight(), 8) << "more requests in flight than --api_concurrency";
}

TEST(ApiModel, RerunIsServedFromTheCache) {
  Fixture f;
  const nlohmann::json opts = f.compat({{"no_cache", false}, {"api_cache_dir", f.dir / "cache"}});
  std::vector<GenerationRequest> batch = {f.request("a"), f.request("b"), f.request("c yes or no")};
  std::vector<GenerationResult> first;
  {
    auto m = f.model("openai-compatible", opts);
    first = m->generate(batch);
  }
  ASSERT_EQ(f.server.request_count(), 3u);
  auto m2 = f.model("openai-compatible", opts);
  const auto second = m2->generate(batch);
  EXPECT_EQ(f.server.request_count(), 3u) << "a re-run must not reach the server";
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(second[i].text, first[i].text);
    EXPECT_EQ(second[i].extra["cached"], true);
  }
  auto* api = dynamic_cast<ApiModel*>(m2.get());
  EXPECT_EQ(api->stats().cache_hits, 3);
  EXPECT_EQ(api->stats().prompt_tokens, 0) << "cached answers cost nothing";
  // A changed prompt or model id is a miss; --no_cache bypasses the cache.
  m2->generate({f.request("a changed")});
  EXPECT_EQ(f.server.request_count(), 4u);
  auto other =
      f.model("openai-compatible",
              f.compat({{"no_cache", false}, {"api_cache_dir", f.dir / "cache"}, {"api_model", "other-model"}}));
  other->generate({f.request("a")});
  EXPECT_EQ(f.server.request_count(), 5u);
  auto bypass = f.model("openai-compatible", f.compat({{"no_cache", true}, {"api_cache_dir", f.dir / "cache"}}));
  bypass->generate({f.request("a")});
  EXPECT_EQ(f.server.request_count(), 6u);
}

TEST(ApiModel, RejectedKeyStopsTheRunAndKeysNeverLeak) {
  Fixture f;
  f.server.push_faults({test::Fault::k400Echo});
  auto m = f.model("openai-compatible", f.compat({{"api_concurrency", 1}}));
  const auto out = m->generate({f.request("q")});
  EXPECT_EQ(out[0].error.find(kKey), std::string::npos) << out[0].error;
  EXPECT_NE(out[0].error.find("[REDACTED]"), std::string::npos) << out[0].error;
  EXPECT_EQ(m->describe().dump().find(kKey), std::string::npos);
  EXPECT_EQ(m->describe()["key_env"], "MVB_API_KEY");

  f.server.push_faults({test::Fault::k401});
  try {
    m->generate({f.request("q2"), f.request("q3")});
    FAIL() << "a 401 must stop the run";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
    EXPECT_NE(msg.find("$MVB_API_KEY"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(kKey), std::string::npos);
  }
}

TEST(ApiModel, MissingKeyIsAUsageErrorNamingTheVariable) {
  Fixture f;
  unsetenv("OPENAI_API_KEY");
  try {
    f.model("o3", {{"api_base", f.server.openai_base()}});
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("OPENAI_API_KEY"), std::string::npos) << e.what();
  }
  unsetenv("GEMINI_API_KEY");
  setenv("GOOGLE_API_KEY", "g-key-123456", 1);
  auto gem = f.model("gemini-2.5-pro", {{"api_base", f.server.gemini_base()}, {"no_cache", true}});
  gem->generate({f.request("x")});
  EXPECT_EQ(f.server.requests().back().header("x-goog-api-key"), "g-key-123456");
  unsetenv("GOOGLE_API_KEY");
  EXPECT_THROW(f.model("openai-compatible", {}), UsageError);  // no --api_base
}

TEST(ApiModel, CompatibleServerModelIsDiscovered) {
  Fixture f;
  f.server.served_model = "Qwen/Qwen2.5-VL-7B-Instruct";
  auto m = f.model("openai-compatible", {{"api_base", f.server.openai_base()}, {"no_cache", true}});
  m->generate({f.request("x")});
  const auto reqs = f.server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].path, "/v1/models");
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body)["model"], "Qwen/Qwen2.5-VL-7B-Instruct");
}

TEST(ApiModel, UndecodableImageIsAnErrorResult) {
  Fixture f;
  test::write_text(f.dir / "broken.png", "not an image");
  GenerationRequest r;
  r.prompt = "q";
  r.images = {ImageRef::file(f.dir / "broken.png")};
  auto m = f.model("openai-compatible", f.compat());
  const auto out = m->generate({r});
  EXPECT_NE(out[0].error.find("broken.png"), std::string::npos) << out[0].error;
  EXPECT_EQ(f.server.request_count(), 0u);
}

}  // namespace
}  // namespace mvb::api

namespace mvb::api {
namespace {

// GenerationRequest's temperature / max_new_tokens / seed (set per role by the agents) override the
// api_* settings, reach each protocol's body, and keep the response-cache key exact: a request
// differing only in temperature, max tokens or (when sampling) seed is a miss, an identical one a hit.
TEST(ApiModel, PerRequestSamplingOverridesSettingsAndKeysTheCache) {
  Fixture f;
  const nlohmann::json opts = f.compat(
      {{"no_cache", false}, {"api_cache_dir", f.dir / "cache"}, {"api_temperature", 0.0}, {"api_max_tokens", 64}});
  auto m = f.model("openai-compatible", opts);
  auto req = [&](std::optional<double> t, std::optional<int> max_tokens, uint64_t seed) {
    GenerationRequest r = f.request("same prompt");
    r.temperature = t;
    r.max_new_tokens = max_tokens;
    r.seed = seed;
    return r;
  };
  // Unset: the api_* settings, no seed (greedy).
  ASSERT_EQ(m->generate({req(std::nullopt, std::nullopt, 5)})[0].error, "");
  auto body = [&](size_t i) { return nlohmann::json::parse(f.server.requests().at(i).body); };
  EXPECT_EQ(body(0)["temperature"], 0.0);
  EXPECT_EQ(body(0)["max_tokens"], 64);
  EXPECT_FALSE(body(0).contains("seed"));
  // Greedy requests ignore the seed: same key.
  m->generate({req(std::nullopt, std::nullopt, 6)});
  EXPECT_EQ(f.server.request_count(), 1u);
  // The request's values win; sampling sends the seed.
  m->generate({req(0.7, 300, 11)});
  ASSERT_EQ(f.server.request_count(), 2u);
  EXPECT_EQ(body(1)["temperature"], 0.7);
  EXPECT_EQ(body(1)["max_tokens"], 300);
  EXPECT_EQ(body(1)["seed"], 11);
  // Each differing field is a new request; an identical request is a cache hit.
  m->generate({req(0.7, 300, 12)});  // another draw
  m->generate({req(0.5, 300, 11)});  // another temperature
  m->generate({req(0.7, 200, 11)});  // another max tokens
  EXPECT_EQ(f.server.request_count(), 5u);
  const auto again = m->generate({req(0.7, 300, 11)});
  EXPECT_EQ(f.server.request_count(), 5u);
  EXPECT_EQ(again[0].extra["cached"], true);

  // Gemini gets them in generationConfig; the Responses API has no seed parameter, but two draws still
  // miss the cache.
  auto gem = f.model("gemini-2.5-pro", {{"api_base", f.server.gemini_base()}, {"no_cache", true}});
  gem->generate({req(0.1, 50, 3)});
  const auto gb = body(5)["generationConfig"];
  EXPECT_EQ(gb["temperature"], 0.1);
  EXPECT_EQ(gb["maxOutputTokens"], 50);
  EXPECT_EQ(gb["seed"], 3);
  auto gpt = f.model("openai", {{"api_base", f.server.openai_base()},
                                {"api_model", "gpt-4.1"},
                                {"no_cache", false},
                                {"api_cache_dir", f.dir / "cache"}});
  gpt->generate({req(0.7, std::nullopt, 1)});
  gpt->generate({req(0.7, std::nullopt, 2)});
  gpt->generate({req(0.7, std::nullopt, 1)});
  ASSERT_EQ(f.server.request_count(), 8u);
  EXPECT_EQ(body(6)["temperature"], 0.7);
  EXPECT_FALSE(body(6).contains("seed"));
  // o-series reject any temperature but their default: not sent, and the result says so.
  auto o3 = f.model("o3", {{"api_base", f.server.openai_base()}, {"no_cache", true}});
  const auto r = o3->generate({req(0.7, 100, 1)});
  EXPECT_EQ(r[0].extra["temperature_sent"], false);
  EXPECT_FALSE(body(8).contains("temperature"));
  EXPECT_EQ(body(8)["max_output_tokens"], 100);
}

}  // namespace
}  // namespace mvb::api
