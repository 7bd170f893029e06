// The three wire formats the API backends speak, as pure functions from a request to an HTTP body
// and from a response body to text and token counts:
//   chat       OpenAI Chat Completions (POST {base}/chat/completions); also vLLM, SGLang, LMDeploy,
//              TGI, llama.cpp server and Ollama, which serve the same route
//   responses  OpenAI Responses API (POST {base}/responses)
//   gemini     Google Gemini generateContent (POST {base}/models/{model}:generateContent)
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mvb::api {

enum class Protocol { kChat, kResponses, kGemini };
Protocol parse_protocol(const std::string& name);  // UsageError listing the valid names
std::string protocol_name(Protocol p);

struct EncodedImage {
  std::string mime = "image/png";
  std::string base64;
};

struct Sampling {
  std::optional<double> temperature;  // unset: not sent (o-series models reject anything but the default)
  int max_tokens = 0;                 // 0: not sent (the reference sends none)
  // Chat Completions: OpenAI's own endpoint wants max_completion_tokens (o-series reject
  // max_tokens); compatible servers understand max_tokens.
  bool max_completion_tokens_field = false;
  // Sampling seed (Chat Completions "seed", Gemini generationConfig.seed); unset: not sent. The
  // Responses API has no seed parameter.
  std::optional<int64_t> seed;
};

std::string endpoint_url(Protocol p, const std::string& base_url, const std::string& model_id);
nlohmann::json build_body(Protocol p, const std::string& model_id, const std::string& prompt,
                          const std::string& system_prompt, const std::vector<EncodedImage>& images,
                          const Sampling& sampling);

struct ParsedReply {
  std::string text;
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;  // billed output, reasoning/thinking tokens included
  int64_t reasoning_tokens = -1;
  std::string error;  // non-empty when the body is not a usable reply (malformed, blocked, empty)
};
ParsedReply parse_reply(Protocol p, const std::string& body);

// The provider's error message from an error response body ({"error": {"message": ...}} in both
// APIs), or the first 300 characters of the body.
std::string error_message(const std::string& body);

}  // namespace mvb::api
