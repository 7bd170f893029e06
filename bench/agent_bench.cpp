// Wall time of an agent run over N questions (default 100) against a loopback OpenAI-compatible
// server that answers every request after a fixed latency (default 200 ms), in one process:
//   batched   - the samples of a batch go through run_agent_batch together: one generate() per stage,
//               the API backend sending that stage's requests concurrently;
//   reference - one call at a time, sample after sample, in the reference's order (its wrappers call
//               the backbone sequentially and run_eval.py evaluates one sample at a time).
// Half the questions are yes/no where the experts agree (level 2: 3 calls), half open questions where
// they disagree (level 3: 8 calls), so the run mixes UCAgent's shallow and deep paths. Prints both wall
// times and the ratio (goal: >= 10x).
//
//   ninja bench_agent_bench && ./bench_agent_bench [questions=100] [latency_ms=200] [ucagent|mdagent]
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "medvlmbench/agents/agents.h"
#include "medvlmbench/backends/api_model.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"

namespace {

std::string reply(const std::string& type, const std::string& answer) {
  return "#Question Type: " + type + "\n#Reasoning: The image shows it.\n#Answer: " + answer;
}

// The reply for one request, by role (read from the prompt). The two experts of an open question
// disagree: the first of the two identical requests to arrive gets "liver", the second "lung".
std::mutex seen_mu;
std::map<std::string, int> seen;
std::string answer_for(const std::string& prompt) {
  auto has = [&](const char* s) { return prompt.find(s) != std::string::npos; };
  if (has("You are acting as the")) return "Team notes.";
  if (has("[Core Identity] You are a professional")) {
    if (has("with yes or no")) return reply("yes/no", "yes");
    std::lock_guard<std::mutex> lock(seen_mu);
    return reply("open", seen[prompt]++ % 2 ? "lung" : "liver");
  }
  if (has("authoritative senior")) return reply("yes/no", "yes");
  if (has("Lead Adjudicator")) return "@ To Expert 1: a?\n@ To Expert 2: b?";
  if (has("[Task 2]")) return reply("open", "lung");
  return "Noted.";
}

// cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, fixed in the shared library):
// a stage that opens 200 connections at once would then wait on SYN retransmits (1 s, 3 s) as no
// real server (vLLM, SGLang: backlog >= 2048) makes it. Linux lets listen() be called again on the
// listening socket to raise the backlog; find it by its port.
void widen_listen_backlog(int port) {
  for (int fd = 3; fd < 1024; ++fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    int listening = 0;
    socklen_t ilen = sizeof(listening);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sin_family != AF_INET) continue;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) != 0 || !listening) continue;
    if (ntohs(addr.sin_port) == port) ::listen(fd, 4096);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100;
  const int latency_ms = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::string usage = argc > 3 ? argv[3] : "ucagent";
  mvb::log::init("warn");

  httplib::Server svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(256); };
  std::atomic<int64_t> served{0};
  svr.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));
    const auto body = nlohmann::json::parse(req.body);
    const std::string prompt = body["messages"][0]["content"][0]["text"];
    const nlohmann::json reply_body = {
        {"choices",
         {{{"message", {{"role", "assistant"}, {"content", answer_for(prompt)}}}, {"finish_reason", "stop"}}}},
        {"usage", {{"prompt_tokens", 300}, {"completion_tokens", 40}}}};
    ++served;
    res.set_content(reply_body.dump(), "application/json");
  });
  const int port = svr.bind_to_any_port("127.0.0.1");
  widen_listen_backlog(port);
  std::thread server([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const std::string dir = "/tmp/mvb_agent_bench." + std::to_string(::getpid());
  mvb::io::create_directories(dir);
  mvb::RgbImage img;
  img.width = img.height = 64;
  for (int i = 0; i < 64 * 64 * 3; ++i) img.pixels.push_back(static_cast<uint8_t>(i * 7));
  mvb::io::write_file_atomic(dir + "/img.png", mvb::api::png_bytes(img));

  std::vector<mvb::agents::AgentJob> jobs;
  for (int i = 0; i < n; ++i) {
    const std::string q = i % 2 ? "Answer the following question about the image with yes or no. Is finding " +
                                      std::to_string(i) + " present?"
                                : "Which organ shows finding " + std::to_string(i) + "?";
    jobs.push_back({q, {mvb::ImageRef::file(dir + "/img.png")}, static_cast<uint64_t>(i)});
  }
  const mvb::agents::AgentFn agent =
      usage == "mdagent" ? mvb::agents::AgentFn([](mvb::agents::Caller& c, const mvb::agents::AgentJob& j) {
        return mvb::agents::run_mdagent(c, j.qs, "intermediate");
      })
                         : mvb::agents::AgentFn([](mvb::agents::Caller& c, const mvb::agents::AgentJob& j) {
                             return mvb::agents::run_ucagent(c, j.qs, {});
                           });
  auto make_model = [&](int concurrency) {
    mvb::ModelSpec spec;
    spec.name = "openai-compatible";
    spec.options = {{"api_base", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                    {"api_model", "bench"},
                    {"api_concurrency", concurrency},
                    {"no_cache", true}};
    return mvb::api::make_api_model(
        mvb::api::Provider{"openai-compatible", mvb::api::Protocol::kChat, "", "", {}, false, "Authorization: Bearer "},
        spec);
  };

  std::printf("%s over %d questions, loopback server with %d ms latency per request\n", usage.c_str(), n, latency_ms);
  // Batched: the whole set as one batch; the backend's concurrency covers the widest stage.
  auto batched_model = make_model(std::min(1024, 2 * n + 8));
  auto* gen = dynamic_cast<mvb::GenerativeModel*>(batched_model.get());
  mvb::agents::DriverStats st;
  auto t0 = std::chrono::steady_clock::now();
  const auto res = mvb::agents::run_agent_batch(*gen, jobs, agent, {}, &st);
  const double batched_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t calls = 0, failed = 0;
  std::map<int, std::pair<double, double>> stage_latency;  // stage -> (max, sum)
  std::map<int, int> stage_n;
  for (const auto& r : res) {
    calls += static_cast<int64_t>(r.steps.size());
    for (const auto& s : r.steps) {
      auto& sl = stage_latency[s.stage];
      sl.first = std::max(sl.first, s.latency_s);
      sl.second += s.latency_s;
      ++stage_n[s.stage];
    }
    failed += !r.outcome.error.empty() || r.outcome.fallback;
  }
  std::printf("%-10s %8.2f s  %5lld calls in %lld generate() calls (%lld stages), %lld failed/fallback\n", "batched",
              batched_s, static_cast<long long>(calls), static_cast<long long>(st.generate_calls),
              static_cast<long long>(st.stages), static_cast<long long>(failed));

  for (const auto& [stage, sl] : stage_latency)
    std::printf("  stage %d: %d requests, request latency max %.3f s, mean %.3f s\n", stage, stage_n[stage], sl.first,
                sl.second / stage_n[stage]);

  // The reference's order: one sample after another, one call at a time.
  auto seq_model = make_model(1);
  auto* seq = dynamic_cast<mvb::GenerativeModel*>(seq_model.get());
  mvb::agents::DriverOptions one;
  one.max_requests_per_generate = 1;
  int64_t seq_calls = 0;
  t0 = std::chrono::steady_clock::now();
  for (const auto& job : jobs) {
    const auto r = mvb::agents::run_agent_batch(*seq, {job}, agent, one);
    seq_calls += static_cast<int64_t>(r[0].steps.size());
  }
  const double seq_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-10s %8.2f s  %5lld calls, one at a time\n", "reference", seq_s, static_cast<long long>(seq_calls));
  std::printf("batched vs one-call-at-a-time: %.1fx (same calls: %s)\n", seq_s / batched_s,
              calls == seq_calls ? "yes" : "NO");
  svr.stop();
  server.join();
  std::filesystem::remove_all(dir);
  return calls == seq_calls ? 0 : 1;
}
