// Request bodies and reply parsing of the three wire formats, on hand-written bodies in the shape
// the providers document.
#include <gtest/gtest.h>

#include "medvlmbench/backends/api_model.h"
#include "medvlmbench/backends/api_protocol.h"
#include "medvlmbench/backends/prices.h"
#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::api {
namespace {

const EncodedImage kImg{"image/png", "iVBORw0KGgo="};

TEST(Protocol, ChatBodyShape) {
  Sampling s;
  const auto b = build_body(Protocol::kChat, "m1", "What?", "", {kImg}, s);
  EXPECT_EQ(b["model"], "m1");
  ASSERT_EQ(b["messages"].size(), 1u);
  EXPECT_EQ(b["messages"][0]["role"], "user");
  const auto& c = b["messages"][0]["content"];
  EXPECT_EQ(c[0], (nlohmann::json{{"type", "text"}, {"text", "What?"}}));
  EXPECT_EQ(c[1]["type"], "image_url");
  EXPECT_EQ(c[1]["image_url"]["url"], "data:image/png;base64,iVBORw0KGgo=");
  // The reference sends no temperature, max_tokens or system prompt.
  EXPECT_FALSE(b.contains("temperature"));
  EXPECT_FALSE(b.contains("max_tokens"));
  s.temperature = 0.0;
  s.max_tokens = 64;
  const auto b2 = build_body(Protocol::kChat, "m1", "What?", "Be brief.", {}, s);
  EXPECT_EQ(b2["messages"][0], (nlohmann::json{{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(b2["temperature"], 0.0);
  EXPECT_EQ(b2["max_tokens"], 64);
  s.max_completion_tokens_field = true;
  EXPECT_EQ(build_body(Protocol::kChat, "o3", "x", "", {}, s)["max_completion_tokens"], 64);
  EXPECT_EQ(endpoint_url(Protocol::kChat, "http://h:1/v1/", "m"), "http://h:1/v1/chat/completions");
}

TEST(Protocol, ResponsesAndGeminiBodyShape) {
  Sampling s;
  const auto r = build_body(Protocol::kResponses, "o3", "Q", "", {kImg}, s);
  EXPECT_EQ(r["input"][0]["content"][0], (nlohmann::json{{"type", "input_text"}, {"text", "Q"}}));
  EXPECT_EQ(r["input"][0]["content"][1],
            (nlohmann::json{{"type", "input_image"}, {"image_url", "data:image/png;base64,iVBORw0KGgo="}}));
  EXPECT_EQ(endpoint_url(Protocol::kResponses, "https://api.openai.com/v1", "o3"),
            "https://api.openai.com/v1/responses");
  const auto g = build_body(Protocol::kGemini, "gemini-2.5-pro", "Q", "", {kImg}, s);
  EXPECT_EQ(g["contents"][0]["parts"][0], (nlohmann::json{{"text", "Q"}}));
  EXPECT_EQ(g["contents"][0]["parts"][1]["inline_data"],
            (nlohmann::json{{"mime_type", "image/png"}, {"data", "iVBORw0KGgo="}}));
  EXPECT_FALSE(g.contains("model"));  // the model is in the URL
  EXPECT_EQ(endpoint_url(Protocol::kGemini, "https://generativelanguage.googleapis.com/v1beta", "gemini-2.5-pro"),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent");
}

TEST(Protocol, ParsesRepliesAndTokenCounts) {
  auto c = parse_reply(Protocol::kChat, R"({"choices":[{"message":{"role":"assistant","content":"Lung"}}],
      "usage":{"prompt_tokens":12,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":1}}})");
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.text, "Lung");
  EXPECT_EQ(c.prompt_tokens, 12);
  EXPECT_EQ(c.completion_tokens, 3);
  EXPECT_EQ(c.reasoning_tokens, 1);
  auto r = parse_reply(Protocol::kResponses, R"({"status":"completed","output":[{"type":"reasoning"},
      {"type":"message","content":[{"type":"output_text","text":"A"},{"type":"output_text","text":"B"}]}],
      "usage":{"input_tokens":5,"output_tokens":9}})");
  EXPECT_EQ(r.text, "AB");
  EXPECT_EQ(r.completion_tokens, 9);
  auto g = parse_reply(Protocol::kGemini, R"({"candidates":[{"content":{"parts":[{"text":"plan","thought":true},
      {"text":"Yes"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":1,
      "thoughtsTokenCount":40}})");
  EXPECT_EQ(g.text, "Yes");
  EXPECT_EQ(g.prompt_tokens, 300);
  EXPECT_EQ(g.completion_tokens, 41);  // thinking is billed as output
  EXPECT_NE(parse_reply(Protocol::kChat, "{\"choices\": [ not json").error, "");
  EXPECT_NE(parse_reply(Protocol::kChat, R"({"choices":[]})").error, "");
  EXPECT_NE(parse_reply(Protocol::kGemini, R"({"promptFeedback":{"blockReason":"SAFETY"}})").error.find("SAFETY"),
            std::string::npos);
  EXPECT_EQ(error_message(R"({"error":{"message":"Rate limit reached"}})"), "Rate limit reached");
  EXPECT_THROW(parse_protocol("grpc"), UsageError);
}

TEST(Protocol, ReferenceSuffixOnlyForNonYesNoPrompts) {
  EXPECT_EQ(apply_reference_suffix("What organ is shown?"),
            "What organ is shown?\n\nPlease answer the question concisely in no more than 2 sentences.");
  const std::string yn = "Answer the following question about the image with yes or no. Is it normal?";
  EXPECT_EQ(apply_reference_suffix(yn), yn);
}

TEST(Prices, TableLookupAndErrors) {
  test::TempDir dir;
  test::write_text(dir / "p.json", R"({"models":{"o3":{"input":2.0,"output":8.0}}})");
  const PriceTable t = PriceTable::load(dir / "p.json");
  ASSERT_TRUE(t.find("o3").has_value());
  EXPECT_DOUBLE_EQ(t.find("o3-2025-04-16")->output_per_mtok, 8.0);  // dated snapshot -> base id
  EXPECT_FALSE(t.find("o3-mini").has_value());
  ApiStats s;
  s.prompt_tokens = 1'000'000;
  s.completion_tokens = 500'000;
  EXPECT_DOUBLE_EQ(s.to_json(t.find("o3"))["cost_usd"].get<double>(), 6.0);
  EXPECT_TRUE(s.to_json(std::nullopt)["cost_usd"].is_null());
  test::write_text(dir / "bad.json", R"({"models":{"o3":{"input":"two"}}})");
  EXPECT_THROW(PriceTable::load(dir / "bad.json"), Error);
  // The shipped table parses.
  EXPECT_TRUE(PriceTable::load(test::source_dir() + "/configs/api_prices.json").find("gemini-2.5-pro").has_value());
}

}  // namespace
}  // namespace mvb::api
