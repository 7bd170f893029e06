// GenerativeModel over a remote API: OpenAI (o3 and any model id; Chat Completions or Responses),
// Google Gemini (generateContent) and any OpenAI-compatible server (vLLM, SGLang, LMDeploy, TGI,
// llama.cpp server, Ollama) at --api_base.
//
// Per request: encode images (PNG, base64), build the provider's body, look it up in the response
// cache, wait for the rate limiter, send with retries (backoff + jitter, Retry-After), parse text and
// token counts. generate() runs up to `concurrency` requests at once and returns results in order.
// A sample whose retries run out comes back with GenerationResult::error (the run writes an error
// row and carries on); a rejected key (401/403) or unknown model/route (404) throws, since no
// later sample could succeed.
//
// Keys come only from environment variables and travel only in request headers: they are never in
// describe(), stats, cache entries, errors or logs (error texts are scrubbed of the key as well).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/backends/api_protocol.h"
#include "medvlmbench/backends/prices.h"
#include "medvlmbench/backends/rate_limiter.h"
#include "medvlmbench/backends/response_cache.h"
#include "medvlmbench/backends/retry.h"
#include "medvlmbench/core/thread_pool.h"
#include "medvlmbench/models/model.h"

namespace mvb::api {

// What a registered backend name stands for.
struct Provider {
  std::string name;  // "openai", "gemini", "openai-compatible"
  Protocol protocol = Protocol::kChat;
  std::string default_base;           // "" = --api_base required
  std::string default_model;          // "" = --api_model required (compatible: asked from /models)
  std::vector<std::string> key_envs;  // first set variable wins
  bool key_required = true;
  std::string key_header = "Authorization: Bearer ";  // prefix of the header carrying the key
};

// The reference appends this to every API prompt that does not contain "yes or no" (model/chat.py).
inline constexpr const char* kReferenceApiSuffix =
    "\n\nPlease answer the question concisely in no more than 2 sentences.";
std::string apply_reference_suffix(const std::string& prompt);

struct ApiSettings {
  Provider provider;
  Protocol protocol = Protocol::kChat;
  std::string base_url;
  std::string model_id;
  std::string key_env;  // which variable held the key ("" = none), for messages and run.json
  int concurrency = 8;
  double timeout_s = 300;
  RetryPolicy retry;
  double rpm = 0, tpm = 0;
  std::string cache_dir;  // "" = no cache
  Sampling sampling;
  // OpenAI reasoning models (o1, o3, o4-mini, gpt-5 ...) accept only their default temperature: a
  // request's temperature is then not sent (the result says so in extra["temperature_sent"]).
  bool fixed_temperature = false;
  bool reference_suffix = true;
  std::string prices_path;
};

// Reads ModelSpec.options (api_base, api_model, api_protocol, api_concurrency, api_timeout_s,
// api_retries, api_retry_base_s, api_rpm, api_tpm, api_max_tokens, api_temperature, api_cache_dir,
// no_cache, api_prices, api_reference_suffix) over the provider's defaults.
//
// Per request, GenerationRequest::temperature and ::max_new_tokens override api_temperature and
// api_max_tokens. A request that samples (temperature > 0) also carries its seed (Chat Completions
// and Gemini send it; all protocols put it in the response-cache key), so two draws of the same
// prompt, such as an agent's two experts or a retry, are two requests and two cache entries.
ApiSettings settings_from_spec(const Provider& provider, const ModelSpec& spec);

struct ApiStats {
  int64_t samples = 0;        // generate() requests
  int64_t http_requests = 0;  // requests actually sent, libcurl's own resends included
  // Requests sent again: libcurl's resends after a reused connection died (not retries of ours), and
  // every request whose answer was lost (those two, plus our retries after a network error or
  // timeout). A provider may have billed a lost one, so cost_usd_unanswered_estimate prices each at
  // the tokens of the answer that finally came; cost_usd counts answers received only.
  int64_t libcurl_resends = 0;
  int64_t unanswered_requests = 0;
  int64_t unanswered_prompt_tokens = 0, unanswered_completion_tokens = 0;
  int64_t cache_hits = 0;
  int64_t retries = 0;
  int64_t failed = 0;  // samples that ended with an error
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0;
  double retry_wait_s = 0;
  nlohmann::json to_json(const std::optional<Price>& price) const;
};

class ApiModel : public GenerativeModel {
 public:
  // `secret` is the key itself ("" = none).
  ApiModel(ApiSettings settings, std::string secret);
  ~ApiModel() override;

  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& batch) override;
  // Several requests per slot, so a slow straggler does not leave the other slots idle for long.
  int preferred_batch_size() const override { return settings_.concurrency * 4; }
  nlohmann::json describe() const override;

  const ApiSettings& settings() const { return settings_; }
  ApiStats stats() const;

 private:
  GenerationResult run_one(const GenerationRequest& req);
  std::string redact(std::string s) const;

  ApiSettings settings_;
  std::string secret_;
  std::vector<std::string> secret_headers_;
  ResponseCache cache_;
  RateLimiter limiter_;
  PriceTable prices_;
  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex mu_;
  ApiStats stats_;
  std::atomic<bool> fatal_{false};
  std::string fatal_error_;
};

// Builds the model for a registered provider: resolves the key from the environment (UsageError
// naming the variable when a required key is missing) and the model id.
std::unique_ptr<Model> make_api_model(const Provider& provider, const ModelSpec& spec);

}  // namespace mvb::api
