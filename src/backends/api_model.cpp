#include "medvlmbench/backends/api_model.h"

#include <chrono>
#include <cstdlib>
#include <future>
#include <random>
#include <regex>
#include <thread>

#include "medvlmbench/backends/http_client.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"

namespace mvb::api {
namespace {

template <class T>
T opt_or(const nlohmann::json& o, const char* key, T dflt) {
  if (!o.is_object() || !o.contains(key) || o[key].is_null()) return dflt;
  try {
    return o[key].get<T>();
  } catch (const std::exception&) {
    throw UsageError(std::string("model option '") + key + "' has the wrong type: " + o[key].dump());
  }
}

// Drops "user:password@" from a URL before it is shown or stored.
std::string without_userinfo(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = url.find('@', start);
  const size_t slash = url.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

// Sleeps up to `seconds`, waking early when the run is cancelled.
void interruptible_sleep(double seconds) {
  using clock = std::chrono::steady_clock;
  const clock::time_point until =
      clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  while (!cancel_requested()) {
    const clock::time_point now = clock::now();
    if (now >= until) return;
    const clock::duration left = until - now;
    std::this_thread::sleep_for(std::min<clock::duration>(left, std::chrono::milliseconds(50)));
  }
}

std::string describe_failure(const HttpResponse& r, const std::string& parse_error) {
  if (!r.network_error.empty()) return (r.timed_out ? "timed out: " : "network error: ") + r.network_error;
  if (!parse_error.empty()) return parse_error;
  return "HTTP " + std::to_string(r.status) + ": " + error_message(r.body);
}

}  // namespace

std::string apply_reference_suffix(const std::string& prompt) {
  return prompt.find("yes or no") == std::string::npos ? prompt + kReferenceApiSuffix : prompt;
}

ApiSettings settings_from_spec(const Provider& provider, const ModelSpec& spec) {
  const nlohmann::json& o = spec.options;
  ApiSettings s;
  s.provider = provider;
  const std::string proto = opt_or<std::string>(o, "api_protocol", "");
  s.protocol = proto.empty() ? provider.protocol : parse_protocol(proto);
  MVB_USAGE_CHECK(provider.protocol != Protocol::kGemini || s.protocol == Protocol::kGemini, "--api_protocol ", proto,
                  " does not apply to Gemini models (they speak generateContent)");
  MVB_USAGE_CHECK(provider.protocol == Protocol::kGemini || s.protocol != Protocol::kGemini,
                  "--api_protocol gemini needs a Gemini model (--model gemini or gemini-2.5-pro)");
  s.base_url = opt_or<std::string>(o, "api_base", "");
  if (s.base_url.empty()) s.base_url = provider.default_base;
  MVB_USAGE_CHECK(!s.base_url.empty(), "--model ", spec.name,
                  " needs --api_base, the server's OpenAI-compatible base URL (e.g. http://localhost:8000/v1)");
  s.model_id = opt_or<std::string>(o, "api_model", "");
  if (s.model_id.empty()) s.model_id = provider.default_model;
  s.concurrency = opt_or<int>(o, "api_concurrency", 8);
  MVB_USAGE_CHECK(s.concurrency >= 1 && s.concurrency <= 1024, "--api_concurrency must be in 1..1024, got ",
                  s.concurrency);
  s.timeout_s = opt_or<double>(o, "api_timeout_s", 300.0);
  MVB_USAGE_CHECK(s.timeout_s > 0, "--api_timeout must be positive (seconds)");
  s.retry.max_retries = opt_or<int>(o, "api_retries", 6);
  MVB_USAGE_CHECK(s.retry.max_retries >= 0, "--api_retries must be >= 0");
  s.retry.base_delay_s = opt_or<double>(o, "api_retry_base_s", 1.0);
  s.retry.max_delay_s = opt_or<double>(o, "api_retry_max_s", 60.0);
  // Cap on a server's Retry-After (issue 18): was a hard-coded 600 s; a long wait is logged below.
  s.retry.max_retry_after_s = opt_or<double>(o, "api_max_retry_after_s", 600.0);
  MVB_USAGE_CHECK(s.retry.max_retry_after_s >= 0, "--api_max_retry_after must be >= 0 (seconds)");
  s.rpm = opt_or<double>(o, "api_rpm", 0.0);
  s.tpm = opt_or<double>(o, "api_tpm", 0.0);
  MVB_USAGE_CHECK(s.rpm >= 0 && s.tpm >= 0, "--api_rpm and --api_tpm must be >= 0 (0 = no limit)");
  s.sampling.max_tokens = opt_or<int>(o, "api_max_tokens", 0);
  if (o.is_object() && o.contains("api_temperature") && !o["api_temperature"].is_null())
    s.sampling.temperature = opt_or<double>(o, "api_temperature", 0.0);
  s.sampling.max_completion_tokens_field = s.base_url.find("api.openai.com") != std::string::npos;
  static const std::regex reasoning_model("^(o\\d.*|gpt-5.*)$");
  s.fixed_temperature = provider.name == "openai" && std::regex_match(s.model_id, reasoning_model);
  const bool no_cache = opt_or<bool>(o, "no_cache", false);
  s.cache_dir = no_cache ? "" : opt_or<std::string>(o, "api_cache_dir", spec.cache_dir);
  s.reference_suffix = opt_or<bool>(o, "api_reference_suffix", true);
  s.prices_path = opt_or<std::string>(o, "api_prices", "");
  return s;
}

nlohmann::json ApiStats::to_json(const std::optional<Price>& price) const {
  nlohmann::json j = {{"samples", samples},
                      {"http_requests", http_requests},
                      {"cache_hits", cache_hits},
                      {"retries", retries},
                      {"failed", failed},
                      {"retry_wait_s", retry_wait_s},
                      {"libcurl_resends", libcurl_resends},
                      {"unanswered_requests", unanswered_requests},
                      {"prompt_tokens", prompt_tokens},
                      {"completion_tokens", completion_tokens},
                      {"reasoning_tokens", reasoning_tokens}};
  if (price) {
    j["price_usd_per_mtok"] = {{"input", price->input_per_mtok}, {"output", price->output_per_mtok}};
    j["cost_usd"] = (prompt_tokens * price->input_per_mtok + completion_tokens * price->output_per_mtok) / 1e6;
    j["cost_usd_unanswered_estimate"] =
        (unanswered_prompt_tokens * price->input_per_mtok + unanswered_completion_tokens * price->output_per_mtok) /
        1e6;
  } else {
    j["cost_usd"] = nullptr;  // no price for this model id in the table
    j["cost_usd_unanswered_estimate"] = nullptr;
  }
  return j;
}

ApiModel::ApiModel(ApiSettings settings, std::string secret)
    : settings_(std::move(settings)),
      secret_(std::move(secret)),
      cache_(settings_.cache_dir),
      limiter_(settings_.rpm, settings_.tpm),
      prices_(PriceTable::load_default(settings_.prices_path)),
      pool_(std::make_unique<ThreadPool>(settings_.concurrency)) {
  if (!secret_.empty()) secret_headers_.push_back(settings_.provider.key_header + secret_);
}

ApiModel::~ApiModel() = default;

std::string ApiModel::redact(std::string s) const {
  if (secret_.size() < 4) return s;
  for (size_t pos; (pos = s.find(secret_)) != std::string::npos;) s.replace(pos, secret_.size(), "[REDACTED]");
  return s;
}

GenerationResult ApiModel::run_one(const GenerationRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  GenerationResult out;
  auto finish = [&](GenerationResult& r) -> GenerationResult {
    r.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.error = redact(r.error);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.samples;
    if (!r.error.empty()) ++stats_.failed;
    return std::move(r);
  };
  const std::string prompt = settings_.reference_suffix ? apply_reference_suffix(req.prompt) : req.prompt;
  out.extra["prompt"] = prompt;
  std::vector<EncodedImage> images;
  try {
    for (const auto& ref : req.images) images.push_back(encode_image(ref));
  } catch (const std::exception& e) {
    out.error = e.what();
    return finish(out);
  }
  const std::string url = endpoint_url(settings_.protocol, settings_.base_url, settings_.model_id);
  // The request's own settings win over the api_* ones (agents set a temperature per role).
  Sampling sampling = settings_.sampling;
  if (req.max_new_tokens) sampling.max_tokens = *req.max_new_tokens;
  if (req.temperature) {
    out.extra["temperature_sent"] = !settings_.fixed_temperature;
    if (!settings_.fixed_temperature) sampling.temperature = *req.temperature;
  }
  const bool sampled = (req.temperature && *req.temperature > 0) || (sampling.temperature && *sampling.temperature > 0);
  // Providers take 31-bit seeds (Gemini's is an int32); the full seed goes into the cache key.
  if (sampled && !settings_.fixed_temperature && settings_.protocol != Protocol::kResponses)
    sampling.seed = static_cast<int64_t>(req.seed & 0x7fffffffULL);
  const std::string body =
      build_body(settings_.protocol, settings_.model_id, prompt, req.system_prompt, images, sampling)
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // never a type_error on bad bytes
  // A sampled answer is one draw: the seed keeps draws apart in the cache even where it is not sent.
  const std::string key =
      ResponseCache::key(url, settings_.model_id, sampled ? body + "\n#seed=" + std::to_string(req.seed) : body);
  auto accept = [&](const ParsedReply& p, bool cached) {
    out.text = trim(p.text);  // the reference strips the returned content
    out.prompt_tokens = p.prompt_tokens;
    out.completion_tokens = p.completion_tokens;
    out.extra["cached"] = cached;
    if (p.reasoning_tokens >= 0) out.extra["reasoning_tokens"] = p.reasoning_tokens;
    std::lock_guard<std::mutex> lock(mu_);
    if (cached) ++stats_.cache_hits;
    if (!cached) {  // cached answers cost nothing this run
      if (p.prompt_tokens > 0) stats_.prompt_tokens += p.prompt_tokens;
      if (p.completion_tokens > 0) stats_.completion_tokens += p.completion_tokens;
      if (p.reasoning_tokens > 0) stats_.reasoning_tokens += p.reasoning_tokens;
    }
  };
  if (auto hit = cache_.get(key)) {
    ParsedReply p = parse_reply(settings_.protocol, *hit);
    if (p.error.empty()) {
      accept(p, /*cached=*/true);
      return finish(out);
    }
  }

  HttpRequest http;
  http.url = url;
  http.body = body;
  http.headers = {"Content-Type: application/json", "Accept: application/json"};
  http.secret_headers = secret_headers_;
  http.timeout_s = settings_.timeout_s;
  const double estimate =
      prompt.size() / 4.0 + 800.0 * images.size() + (sampling.max_tokens > 0 ? sampling.max_tokens : 500);
  std::string last_error;
  nlohmann::json delays = nlohmann::json::array();
  const int attempts = settings_.retry.max_retries + 1;
  int attempt = 0;
  int64_t lost_sends = 0;  // requests of this sample sent whose answer never arrived
  for (; attempt < attempts; ++attempt) {
    if (fatal_ || cancel_requested()) {
      out.error = fatal_ ? "not sent: the API rejected an earlier request" : "cancelled before sending";
      out.extra["cancelled"] = true;
      return finish(out);
    }
    limiter_.acquire(estimate);
    HttpResponse resp = http_send(http);
    {
      // Every head on the wire counts; each send before libcurl's last one lost its answer, and so did
      // the last one when no reply came (a network error or timeout after sending).
      const int sends = std::max(resp.sends, 1);
      lost_sends += sends - 1 + (resp.status == 0 && resp.sends > 0 ? 1 : 0);
      std::lock_guard<std::mutex> lock(mu_);
      stats_.http_requests += sends;
      stats_.libcurl_resends += sends - 1;
    }
    Outcome outcome = classify(resp);
    std::string parse_error;
    if (outcome == Outcome::kSuccess) {
      ParsedReply p = parse_reply(settings_.protocol, resp.body);
      if (p.error.empty()) {
        cache_.put(key, url, settings_.model_id, resp.body);
        if (p.prompt_tokens >= 0 && p.completion_tokens >= 0)
          limiter_.adjust_tokens(static_cast<double>(p.prompt_tokens + p.completion_tokens) - estimate);
        accept(p, /*cached=*/false);
        if (lost_sends > 0) {
          std::lock_guard<std::mutex> lock(mu_);
          stats_.unanswered_requests += lost_sends;
          stats_.unanswered_prompt_tokens += lost_sends * std::max<int64_t>(p.prompt_tokens, 0);
          stats_.unanswered_completion_tokens += lost_sends * std::max<int64_t>(p.completion_tokens, 0);
          out.extra["unanswered_requests"] = lost_sends;
        }
        out.extra["attempts"] = attempt + 1;
        if (!delays.empty()) out.extra["retry_delays_s"] = delays;
        return finish(out);
      }
      // A 200 with an unusable body (truncated by a proxy, malformed JSON, no content): retry.
      parse_error = p.error;
      outcome = Outcome::kRetry;
    }
    last_error = describe_failure(resp, parse_error);
    if (outcome == Outcome::kFatal) {
      if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!fatal_) {
          fatal_error_ = redact(settings_.provider.name + " API at " + without_userinfo(settings_.base_url) +
                                " refused " + settings_.model_id + " (" + last_error + ")" +
                                (resp.status == 404
                                     ? "; check --api_base and --api_model"
                                     : "; check the key in $" + (settings_.key_env.empty() ? std::string("MVB_API_KEY")
                                                                                           : settings_.key_env)));
          fatal_ = true;
        }
      }
      out.error = last_error;
      out.extra["attempts"] = attempt + 1;
      return finish(out);
    }
    if (attempt + 1 < attempts) {
      const double delay = retry_delay_s(settings_.retry, resp, attempt, thread_rng());
      delays.push_back(delay);
      if (resp.headers.count("retry-after") && delay >= 1.0)  // say why the run is idle (issue 18)
        spdlog::warn("{}: the server asked to wait (Retry-After: {}); waiting {:.1f} s (cap {:.0f} s), retry {}/{}",
                     settings_.model_id, resp.headers.at("retry-after"), delay, settings_.retry.max_retry_after_s,
                     attempt + 1, settings_.retry.max_retries);
      spdlog::debug("{} request failed ({}); retry {}/{} in {:.2f} s", settings_.model_id, redact(last_error),
                    attempt + 1, settings_.retry.max_retries, delay);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.retries;
        stats_.retry_wait_s += delay;
      }
      interruptible_sleep(delay);
    }
  }
  if (lost_sends > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.unanswered_requests += lost_sends;  // no answer came, so no token count to price them by
  }
  out.error = "failed after " + std::to_string(attempt) + " attempts; last error: " + last_error;
  out.extra["attempts"] = attempt;
  out.extra["retry_delays_s"] = delays;
  return finish(out);
}

std::vector<GenerationResult> ApiModel::generate(const std::vector<GenerationRequest>& batch) {
  std::vector<std::future<GenerationResult>> futures;
  futures.reserve(batch.size());
  for (const auto& req : batch) futures.push_back(pool_->submit([this, &req] { return run_one(req); }));
  std::vector<GenerationResult> out;
  out.reserve(batch.size());
  for (auto& f : futures) out.push_back(f.get());
  if (fatal_) throw Error(fatal_error_);
  return out;
}

ApiStats ApiModel::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

nlohmann::json ApiModel::describe() const {
  return {
      {"backend", settings_.provider.name},
      {"protocol", protocol_name(settings_.protocol)},
      {"api_base", without_userinfo(settings_.base_url)},
      {"model_id", settings_.model_id},
      {"key_env", settings_.key_env},  // the variable's name, never its value
      {"concurrency", settings_.concurrency},
      {"timeout_s", settings_.timeout_s},
      {"max_retries", settings_.retry.max_retries},
      {"rpm", settings_.rpm},
      {"tpm", settings_.tpm},
      {"max_tokens", settings_.sampling.max_tokens},
      {"temperature", settings_.sampling.temperature ? nlohmann::json(*settings_.sampling.temperature) : nullptr},
      {"response_cache", settings_.cache_dir.empty() ? nlohmann::json(nullptr) : nlohmann::json(settings_.cache_dir)},
      {"reference_prompt_suffix", settings_.reference_suffix},
      {"prices", prices_.source()},
      {"api_usage", stats().to_json(prices_.find(settings_.model_id))}};
}

namespace {

// Asks an OpenAI-compatible server which model it serves (GET {base}/models); vLLM and SGLang
// serve one model, named after its path, which users rarely remember exactly.
std::string discover_model(const ApiSettings& s, const std::vector<std::string>& secret_headers) {
  HttpRequest req;
  req.method = "GET";
  std::string base = s.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + "/models";
  req.secret_headers = secret_headers;
  req.timeout_s = std::min(30.0, s.timeout_s);
  const HttpResponse r = http_send(req);
  MVB_CHECK(r.ok(), "cannot ask ", without_userinfo(req.url), " for its model (", describe_failure(r, ""),
            "); give the model id with --api_model");
  try {
    const auto j = nlohmann::json::parse(r.body);
    const std::string id = j.at("data").at(0).at("id").get<std::string>();
    spdlog::info("server at {} serves model '{}'", without_userinfo(s.base_url), id);
    return id;
  } catch (const std::exception&) {
    throw Error("the server at " + without_userinfo(s.base_url) + " listed no model under /models; give --api_model");
  }
}

}  // namespace

std::unique_ptr<Model> make_api_model(const Provider& provider, const ModelSpec& spec) {
  ApiSettings s = settings_from_spec(provider, spec);
  std::string secret;
  const std::string key_env_opt = opt_or<std::string>(spec.options, "api_key_env", "");
  std::vector<std::string> envs = key_env_opt.empty() ? provider.key_envs : std::vector<std::string>{key_env_opt};
  for (const auto& name : envs) {
    const char* v = std::getenv(name.c_str());
    if (v && *v) {
      secret = v;
      s.key_env = name;
      break;
    }
  }
  MVB_USAGE_CHECK(!provider.key_required || !secret.empty(), "--model ", spec.name, " needs an API key: set ",
                  join(envs, " or "), " in the environment (keys are never read from flags or files)");
  std::vector<std::string> secret_headers;
  if (!secret.empty()) secret_headers.push_back(provider.key_header + secret);
  if (s.model_id.empty()) {
    MVB_USAGE_CHECK(provider.name == "openai-compatible", "--model ", spec.name,
                    " needs --api_model, the provider's model id (e.g. gpt-4.1 or gemini-2.5-flash)");
    s.model_id = discover_model(s, secret_headers);
  }
  spdlog::info("API backend {}: model {} at {} ({} protocol, concurrency {}, key from {})", provider.name, s.model_id,
               without_userinfo(s.base_url), protocol_name(s.protocol), s.concurrency,
               s.key_env.empty() ? std::string("nowhere (no key)") : "$" + s.key_env);
  return std::make_unique<ApiModel>(std::move(s), std::move(secret));
}

}  // namespace mvb::api
