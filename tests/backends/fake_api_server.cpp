#include "fake_api_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <stdexcept>

namespace mvb::test {

std::string prompt_of(const nlohmann::json& b) {
  if (b.contains("messages")) {
    const auto& content = b["messages"].back()["content"];
    return content.is_string() ? content.get<std::string>() : content[0]["text"].get<std::string>();
  }
  if (b.contains("input")) return b["input"][0]["content"][0]["text"].get<std::string>();
  if (b.contains("contents")) return b["contents"][0]["parts"][0]["text"].get<std::string>();
  return "";
}

namespace {

int64_t words(const std::string& s) {
  std::istringstream is(s);
  int64_t n = 0;
  for (std::string w; is >> w;) ++n;
  return n;
}

std::string default_answer(const std::string& prompt) {
  if (prompt.find("yes or no") != std::string::npos) return "yes";
  return "answer to: " + prompt.substr(0, prompt.find('\n'));
}

nlohmann::json reply(const std::string& protocol, const std::string& model, const std::string& text, int64_t in_tokens,
                     int64_t out_tokens) {
  if (protocol == "chat")
    return {
        {"id", "chatcmpl-1"},
        {"object", "chat.completion"},
        {"model", model},
        {"choices",
         {{{"index", 0},
           {"message", {{"role", "assistant"}, {"content", "  " + text + "\n"}}},
           {"finish_reason", "stop"}}}},
        {"usage",
         {{"prompt_tokens", in_tokens}, {"completion_tokens", out_tokens}, {"total_tokens", in_tokens + out_tokens}}}};
  if (protocol == "responses")
    return {{"id", "resp_1"},
            {"object", "response"},
            {"status", "completed"},
            {"model", model},
            {"output",
             {{{"type", "reasoning"}, {"id", "rs_1"}, {"summary", nlohmann::json::array()}},
              {{"type", "message"},
               {"role", "assistant"},
               {"content", {{{"type", "output_text"}, {"text", text}, {"annotations", nlohmann::json::array()}}}}}}},
            {"usage",
             {{"input_tokens", in_tokens},
              {"output_tokens", out_tokens + 7},
              {"output_tokens_details", {{"reasoning_tokens", 7}}}}}};
  return {{"candidates", {{{"content", {{"role", "model"}, {"parts", {{{"text", text}}}}}}, {"finishReason", "STOP"}}}},
          {"usageMetadata",
           {{"promptTokenCount", in_tokens},
            {"candidatesTokenCount", out_tokens},
            {"thoughtsTokenCount", 5},
            {"totalTokenCount", in_tokens + out_tokens + 5}}},
          {"modelVersion", model}};
}

}  // namespace

FakeApiServer::FakeApiServer() {
  answer = default_answer;
  // Enough workers for the concurrency tests (the default is max(8, cores - 1)).
  svr_.new_task_queue = [] { return new httplib::ThreadPool(64); };
  // stop() waits for idle keep-alive connections to time out; keep that short.
  svr_.set_keep_alive_timeout(1);
  svr_.Post("/v1/chat/completions", [this](const auto& q, auto& r) { handle(q, r, "chat"); });
  svr_.Post("/v1/responses", [this](const auto& q, auto& r) { handle(q, r, "responses"); });
  svr_.Post(R"(/v1beta/models/([^/:]+):generateContent)", [this](const auto& q, auto& r) { handle(q, r, "gemini"); });
  svr_.Get("/v1/models", [this](const httplib::Request& q, httplib::Response& r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(RecordedRequest{q.method, q.path, q.body, {q.headers.begin(), q.headers.end()}});
    }
    r.set_content(nlohmann::json{{"object", "list"}, {"data", {{{"id", served_model}, {"object", "model"}}}}}.dump(),
                  "application/json");
  });
  port_ = svr_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("FakeApiServer: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { svr_.listen_after_bind(); });
  // cpp-httplib 0.11 has no wait_until_ready(): poll is_running() (TOOLCHAIN.md pitfall 4).
  for (int i = 0; i < 500 && !svr_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!svr_.is_running()) throw std::runtime_error("FakeApiServer did not start");
}

FakeApiServer::~FakeApiServer() {
  svr_.stop();
  if (thread_.joinable()) thread_.join();
}

void FakeApiServer::push_faults(const std::vector<Fault>& faults) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.insert(faults_.end(), faults.begin(), faults.end());
}

std::vector<RecordedRequest> FakeApiServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

size_t FakeApiServer::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_.size();
}

void FakeApiServer::clear_requests() {
  std::lock_guard<std::mutex> lock(mu_);
  log_.clear();
}

Fault FakeApiServer::next_fault() {
  std::lock_guard<std::mutex> lock(mu_);
  if (faults_.empty()) return Fault::kNone;
  Fault f = faults_.front();
  faults_.pop_front();
  return f;
}

void FakeApiServer::handle(const httplib::Request& req, httplib::Response& res, const std::string& protocol) {
  RecordedRequest rec{req.method, req.path, req.body, {}};
  for (const auto& [k, v] : req.headers) rec.headers.emplace(k, v);
  {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(rec);
  }
  struct InFlight {
    std::atomic<int>& n;
    InFlight(std::atomic<int>& n_, std::atomic<int>& max) : n(n_) {
      const int now = ++n;
      for (int m = max.load(); now > m && !max.compare_exchange_weak(m, now);) {
      }
    }
    ~InFlight() { --n; }
  } in_flight(in_flight_, max_in_flight_);
  const Fault fault = next_fault();
  switch (fault) {
    case Fault::k429:
      res.status = 429;
      res.set_header("Retry-After", retry_after);
      res.set_content(R"({"error":{"message":"Rate limit reached","type":"rate_limit"}})", "application/json");
      return;
    case Fault::k500:
      res.status = 500;
      res.set_content(R"({"error":{"message":"internal error"}})", "application/json");
      return;
    case Fault::k401:
      res.status = 401;
      res.set_content(R"({"error":{"message":"Incorrect API key provided"}})", "application/json");
      return;
    case Fault::k400Echo:
      res.status = 400;
      res.set_content(nlohmann::json{{"error",
                                      {{"message", "bad request from " + rec.header("Authorization") +
                                                       rec.header("x-goog-api-key")}}}}
                          .dump(),
                      "application/json");
      return;
    case Fault::kMalformed:
      res.set_content("{\"choices\": [ this is not json", "application/json");
      return;
    case Fault::kTruncated:
      res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink& sink) {
        sink.write("{\"choices\": ", 12);
        return false;  // abort: the client sees a body shorter than Content-Length
      });
      return;
    case Fault::kSlow:
      std::this_thread::sleep_for(std::chrono::duration<double>(slow_s));
      break;
    case Fault::kNone:
      break;
  }
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(req.body);
  } catch (const std::exception&) {
    res.status = 400;
    res.set_content(R"({"error":{"message":"request body is not JSON"}})", "application/json");
    return;
  }
  const std::string prompt = prompt_of(body);
  if (delay_s) std::this_thread::sleep_for(std::chrono::duration<double>(delay_s(prompt)));
  const std::string text = answer(prompt);
  const std::string model = protocol == "gemini" ? req.matches[1].str() : body.value("model", "");
  res.set_content(reply(protocol, model, text, words(prompt) + 100, words(text)).dump(), "application/json");
}

ResetServer::ResetServer() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0)
    throw std::runtime_error("ResetServer: cannot listen on 127.0.0.1");
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      char buf[4096];
      pollfd pc{c, POLLIN, 0};
      if (::poll(&pc, 1, 1000) > 0) (void)::read(c, buf, sizeof buf);
      linger lg{1, 0};  // close with RST instead of FIN
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      ::close(c);
    }
  });
}

ResetServer::~ResetServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace mvb::test
