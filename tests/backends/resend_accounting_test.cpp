// Issue 18, defect 8: libcurl resends a request by itself when a reused keep-alive connection dies
// before any reply byte; those requests reached the server (which may bill them) but were not counted,
// so cost accounting ran about 3% low. A raw HTTP/1.1 server here answers the first request on a
// connection, then reads the second one and closes without a reply: libcurl reconnects and sends it
// again. The server's count of requests received and http_requests must agree. Also: the
// --api_max_retry_after flag is bounded and reaches the model.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "fairvlmed_api_eval.h"
#include "fake_api_server.h"
#include "medvlmbench/backends/api_model.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/models/model.h"
#include "support/test_support.h"

namespace mvb::api {
namespace {

// Serves connections one at a time; request number `drop_at` (1-based, over all connections) is read
// and then answered by closing the connection.
class DroppingServer {
 public:
  explicit DroppingServer(int drop_at) : drop_at_(drop_at) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { loop(); });
  }
  ~DroppingServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int requests() const { return requests_; }

 private:
  // Reads one request (head + Content-Length body); false when the peer closed.
  static bool read_request(int c, std::string& buf) {
    char tmp[4096];
    for (;;) {
      const size_t head_end = buf.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        std::string head = buf.substr(0, head_end);
        for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const size_t cl = head.find("content-length:");
        if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
        if (buf.size() >= head_end + 4 + length) {
          buf.erase(0, head_end + 4 + length);
          return true;
        }
      }
      const ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
    }
  }
  void loop() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string buf;
      while (read_request(c, buf)) {
        const int n = ++requests_;
        if (n == drop_at_) break;  // close with no reply: the connection "died"
        const std::string body =
            R"({"id":"x","object":"chat.completion","model":"fake-vlm","choices":[{"index":0,"message":)"
            R"({"role":"assistant","content":"yes"},"finish_reason":"stop"}],)"
            R"("usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110}})";
        const std::string resp =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: keep-alive\r\n\r\n" + body;
        if (::send(c, resp.data(), resp.size(), MSG_NOSIGNAL) < 0) break;
      }
      ::close(c);
    }
  }
  int fd_ = -1, port_ = 0, drop_at_;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ResendAccounting, LibcurlsOwnResendsAreCountedAndPriced) {
  test::TempDir dir;
  DroppingServer server(/*drop_at=*/2);
  RgbImage img;
  img.width = img.height = 2;
  img.pixels.assign(12, 128);
  const std::string image = dir / "img.png";
  test::write_text(image, png_bytes(img));
  setenv("MVB_API_KEY", "sk-test-resend", 1);
  ModelSpec spec;
  spec.name = "openai-compatible";
  spec.model_path = "original_pretrained";
  spec.options = {{"api_base", server.base()},
                  {"api_model", "gpt-4o-mini"},
                  {"no_cache", true},
                  {"api_concurrency", 1},  // one thread, one keep-alive connection
                  {"api_retries", 0}};     // the second answer can only come from libcurl's resend
  auto m = model_registry().get(spec.name).factory(spec);
  auto* api = dynamic_cast<ApiModel*>(m.get());
  ASSERT_NE(api, nullptr);
  for (const char* q : {"Is this normal?", "Is there a fracture?"}) {
    GenerationRequest r;
    r.prompt = q;
    r.images = {ImageRef::file(image)};
    const auto out = api->generate({r});
    ASSERT_EQ(out[0].error, "") << q;
    EXPECT_EQ(out[0].text, "yes");
  }
  ASSERT_EQ(server.requests(), 3) << "the server did not see libcurl resend the second request";
  const ApiStats s = api->stats();
  EXPECT_EQ(s.http_requests, 3) << "requests the server received and requests counted differ";
  EXPECT_EQ(s.libcurl_resends, 1);
  EXPECT_EQ(s.unanswered_requests, 1);
  const nlohmann::json usage = api->describe()["api_usage"];
  EXPECT_EQ(usage["http_requests"], 3);
  // gpt-4o-mini: $0.15 in / $0.60 out per 1M tokens; the lost request priced like the answered one.
  EXPECT_NEAR(usage["cost_usd_unanswered_estimate"].get<double>(), (100 * 0.15 + 10 * 0.6) / 1e6, 1e-12);
  EXPECT_NEAR(usage["cost_usd"].get<double>(), 2 * (100 * 0.15 + 10 * 0.6) / 1e6, 1e-12);
}

TEST(ResendAccounting, MaxRetryAfterFlagIsBoundedAndRecorded) {
  auto bad = test::run_command({test::exe_path(), "eval", "--task", "vqa", "--dataset", "SLAKE", "--model",
                                "openai-compatible", "--api_max_retry_after", "-5"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--api_max_retry_after"), std::string::npos) << bad.err;
  auto huge = test::run_command({test::exe_path(), "eval", "--task", "vqa", "--dataset", "SLAKE", "--model",
                                 "openai-compatible", "--api_max_retry_after", "1e9"});
  EXPECT_EQ(huge.exit_code, 2) << huge.err;

  // Through eval: a 429 asking for 30 s waits the flag's 1 s, says so in the log, and run.json records it.
  test::TempDir dir;
  test::FakeApiServer server;
  server.retry_after = "30";
  server.push_faults({test::Fault::k429});
  test::FairVlmedApiEval eval(dir, server);
  setenv("MVB_API_KEY", "sk-test-retry-after-flag", 1);
  const auto t0 = std::chrono::steady_clock::now();
  eval.argv.insert(eval.argv.end(), {"--api_concurrency", "1", "--api_max_retry_after", "1", "--log_level", "info"});
  auto r = test::run_command(eval.argv);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(took, 20.0) << "Retry-After: 30 was not clamped";
  EXPECT_NE((r.out + r.err).find("Retry-After: 30"), std::string::npos) << "the long wait was not logged: " << r.err;
  const auto manifest = nlohmann::json::parse(test::read_text(eval.run_dir + "/run.json"));
  EXPECT_EQ(manifest["config"]["api_max_retry_after"], 1.0);
  EXPECT_EQ(manifest["usage_stats"]["api_usage"]["retries"], 1);
}

}  // namespace
}  // namespace mvb::api
