#include "medvlmbench/backends/api_protocol.h"

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb::api {
namespace {

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string data_url(const EncodedImage& img) { return "data:" + img.mime + ";base64," + img.base64; }

int64_t int_or(const nlohmann::json& j, const char* key, int64_t dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : dflt;
}

// Text of a chat message's content: a string, or (some servers) a list of {"type":"text"} parts.
std::string content_text(const nlohmann::json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& part : content)
      if (part.is_object() && part.value("type", "") == "text" && part["text"].is_string())
        out += part["text"].get<std::string>();
  return out;
}

ParsedReply parse_chat(const nlohmann::json& j) {
  ParsedReply r;
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) {
    r.error = "reply has no choices";
    return r;
  }
  const auto& msg = j["choices"][0].value("message", nlohmann::json::object());
  if (!msg.contains("content") || msg["content"].is_null()) {
    const std::string refusal = msg.value("refusal", "");
    r.error = refusal.empty() ? "reply has no message content (finish_reason " +
                                    j["choices"][0].value("finish_reason", std::string("?")) + ")"
                              : "model refused: " + refusal;
    return r;
  }
  r.text = content_text(msg["content"]);
  const auto usage = j.value("usage", nlohmann::json::object());
  r.prompt_tokens = int_or(usage, "prompt_tokens", -1);
  r.completion_tokens = int_or(usage, "completion_tokens", -1);
  if (usage.contains("completion_tokens_details"))
    r.reasoning_tokens = int_or(usage["completion_tokens_details"], "reasoning_tokens", -1);
  return r;
}

ParsedReply parse_responses(const nlohmann::json& j) {
  ParsedReply r;
  if (j.value("status", "completed") == "failed" || (j.contains("error") && !j["error"].is_null())) {
    r.error = "response failed: " + (j.contains("error") ? j["error"].dump() : std::string("status failed"));
    return r;
  }
  if (!j.contains("output") || !j["output"].is_array()) {
    r.error = "reply has no output";
    return r;
  }
  bool found = false;
  for (const auto& item : j["output"]) {
    if (!item.is_object() || item.value("type", "") != "message" || !item.contains("content")) continue;
    for (const auto& part : item["content"])
      if (part.is_object() && part.value("type", "") == "output_text" && part["text"].is_string()) {
        r.text += part["text"].get<std::string>();
        found = true;
      }
  }
  if (!found) {
    r.error = "reply has no output_text (status " + j.value("status", std::string("?")) + ")";
    return r;
  }
  const auto usage = j.value("usage", nlohmann::json::object());
  r.prompt_tokens = int_or(usage, "input_tokens", -1);
  r.completion_tokens = int_or(usage, "output_tokens", -1);
  if (usage.contains("output_tokens_details"))
    r.reasoning_tokens = int_or(usage["output_tokens_details"], "reasoning_tokens", -1);
  return r;
}

ParsedReply parse_gemini(const nlohmann::json& j) {
  ParsedReply r;
  if (!j.contains("candidates") || !j["candidates"].is_array() || j["candidates"].empty()) {
    const auto fb = j.value("promptFeedback", nlohmann::json::object());
    r.error = fb.contains("blockReason") ? "prompt blocked: " + fb["blockReason"].dump() : "reply has no candidates";
    return r;
  }
  const auto& cand = j["candidates"][0];
  const auto content = cand.value("content", nlohmann::json::object());
  bool found = false;
  if (content.contains("parts") && content["parts"].is_array())
    for (const auto& part : content["parts"])
      // Thought summaries (thought: true) are not the answer.
      if (part.is_object() && part.contains("text") && !part.value("thought", false)) {
        r.text += part["text"].get<std::string>();
        found = true;
      }
  if (!found) {
    r.error = "reply has no text (finishReason " + cand.value("finishReason", std::string("?")) + ")";
    return r;
  }
  const auto usage = j.value("usageMetadata", nlohmann::json::object());
  r.prompt_tokens = int_or(usage, "promptTokenCount", -1);
  const int64_t candidates = int_or(usage, "candidatesTokenCount", -1);
  const int64_t thoughts = int_or(usage, "thoughtsTokenCount", 0);
  r.reasoning_tokens = usage.contains("thoughtsTokenCount") ? thoughts : -1;
  r.completion_tokens = candidates < 0 ? -1 : candidates + thoughts;  // thinking is billed as output
  return r;
}

}  // namespace

Protocol parse_protocol(const std::string& name) {
  const std::string n = to_lower(name);
  if (n == "chat" || n == "chat_completions") return Protocol::kChat;
  if (n == "responses") return Protocol::kResponses;
  if (n == "gemini" || n == "generatecontent") return Protocol::kGemini;
  throw UsageError("unknown --api_protocol '" + name + "'; valid: chat, responses, gemini");
}

std::string protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kChat:
      return "chat";
    case Protocol::kResponses:
      return "responses";
    case Protocol::kGemini:
      return "gemini";
  }
  return "?";
}

std::string endpoint_url(Protocol p, const std::string& base_url, const std::string& model_id) {
  const std::string base = strip_slash(base_url);
  switch (p) {
    case Protocol::kChat:
      return base + "/chat/completions";
    case Protocol::kResponses:
      return base + "/responses";
    case Protocol::kGemini:
      return base + "/models/" + model_id + ":generateContent";
  }
  return base;
}

nlohmann::json build_body(Protocol p, const std::string& model_id, const std::string& prompt,
                          const std::string& system_prompt, const std::vector<EncodedImage>& images,
                          const Sampling& s) {
  nlohmann::json body;
  if (p == Protocol::kChat) {
    // The text first, then the images, as the reference's DeerAPIModel orders them.
    nlohmann::json content = nlohmann::json::array({{{"type", "text"}, {"text", prompt}}});
    for (const auto& img : images) content.push_back({{"type", "image_url"}, {"image_url", {{"url", data_url(img)}}}});
    nlohmann::json messages = nlohmann::json::array();
    if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
    messages.push_back({{"role", "user"}, {"content", content}});
    body = {{"model", model_id}, {"messages", messages}};
    if (s.temperature) body["temperature"] = *s.temperature;
    if (s.max_tokens > 0) body[s.max_completion_tokens_field ? "max_completion_tokens" : "max_tokens"] = s.max_tokens;
    if (s.seed) body["seed"] = *s.seed;
  } else if (p == Protocol::kResponses) {
    nlohmann::json content = nlohmann::json::array({{{"type", "input_text"}, {"text", prompt}}});
    for (const auto& img : images) content.push_back({{"type", "input_image"}, {"image_url", data_url(img)}});
    body = {{"model", model_id},
            {"input", nlohmann::json::array({{{"role", "user"}, {"content", content}}})},
            {"store", false}};
    if (!system_prompt.empty()) body["instructions"] = system_prompt;
    if (s.temperature) body["temperature"] = *s.temperature;
    if (s.max_tokens > 0) body["max_output_tokens"] = s.max_tokens;
  } else {
    nlohmann::json parts = nlohmann::json::array({{{"text", prompt}}});
    for (const auto& img : images) parts.push_back({{"inline_data", {{"mime_type", img.mime}, {"data", img.base64}}}});
    body = {{"contents", nlohmann::json::array({{{"role", "user"}, {"parts", parts}}})}};
    if (!system_prompt.empty())
      body["systemInstruction"] = {{"parts", nlohmann::json::array({{{"text", system_prompt}}})}};
    nlohmann::json gen = nlohmann::json::object();
    if (s.temperature) gen["temperature"] = *s.temperature;
    if (s.max_tokens > 0) gen["maxOutputTokens"] = s.max_tokens;
    if (s.seed) gen["seed"] = *s.seed;
    if (!gen.empty()) body["generationConfig"] = gen;
  }
  return body;
}

ParsedReply parse_reply(Protocol p, const std::string& body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const std::exception& e) {
    ParsedReply r;
    r.error = "malformed JSON in reply (" + std::to_string(body.size()) + " bytes): " + e.what();
    return r;
  }
  if (!j.is_object()) {
    ParsedReply r;
    r.error = "reply is not a JSON object";
    return r;
  }
  switch (p) {
    case Protocol::kChat:
      return parse_chat(j);
    case Protocol::kResponses:
      return parse_responses(j);
    case Protocol::kGemini:
      return parse_gemini(j);
  }
  return {};
}

std::string error_message(const std::string& body) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
      if (e.is_string()) return e.get<std::string>();
    }
    if (j.is_object() && j.contains("detail") && j["detail"].is_string()) return j["detail"].get<std::string>();
  } catch (const std::exception&) {
  }
  return body.substr(0, 300);
}

}  // namespace mvb::api
