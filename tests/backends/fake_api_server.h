// A loopback server (cpp-httplib on 127.0.0.1, random port) speaking the OpenAI Chat Completions,
// OpenAI Responses and Gemini generateContent routes, with scripted faults, for the API backend
// tests. Every request is recorded (method, path, headers, body) so tests can check its shape.
#pragma once

#include <httplib.h>
#include <strings.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace mvb::test {

enum class Fault {
  kNone,
  k429,        // 429 with Retry-After: retry_after
  k500,        // 500 with an error body
  kSlow,       // answers after slow_s (past the client's timeout)
  kTruncated,  // declares a 1000-byte body, sends 12 bytes and closes
  kMalformed,  // 200 with a body that is not JSON
  k400Echo,    // 400 whose message echoes the Authorization header (a careless proxy)
  k401,        // key rejected
};

struct RecordedRequest {
  std::string method, path, body;
  std::multimap<std::string, std::string> headers;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return "";
  }
};

class FakeApiServer {
 public:
  FakeApiServer();
  ~FakeApiServer();

  int port() const { return port_; }
  std::string openai_base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::string gemini_base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1beta"; }

  // Faults for the next requests, one per request in arrival order; then normal answers.
  void push_faults(const std::vector<Fault>& faults);
  std::vector<RecordedRequest> requests() const;
  size_t request_count() const;
  void clear_requests();

  // The answer for a prompt (default: "yes" for yes/no prompts, else "answer to: <question>").
  std::function<std::string(const std::string& prompt)> answer;
  // Delay before answering, per prompt (default none).
  std::function<double(const std::string& prompt)> delay_s;
  std::string retry_after = "1";
  double slow_s = 2.0;
  std::string served_model = "fake-vlm";
  // Most requests the server was handling at the same moment.
  int max_in_flight() const { return max_in_flight_; }

 private:
  void handle(const httplib::Request& req, httplib::Response& res, const std::string& protocol);
  Fault next_fault();

  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::deque<Fault> faults_;
  std::vector<RecordedRequest> log_;
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
};

// A TCP listener that resets every connection as soon as the request arrives (RST, no response).
class ResetServer {
 public:
  ResetServer();
  ~ResetServer();
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int connections() const { return connections_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The user prompt text of a request body in any of the three formats.
std::string prompt_of(const nlohmann::json& body);

}  // namespace mvb::test
