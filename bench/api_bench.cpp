// Throughput of the API backend against a loopback OpenAI-compatible server that answers every
// request after a fixed 200 ms, at --api_concurrency 1, 8 and 32. With latency-bound requests the
// rate should grow near-linearly with concurrency (goal: >= 20x at 32). Reported as requests/s and
// the ratio to concurrency 1, all measured in this one process.
//
//   ninja bench_api_bench && ./bench_api_bench [latency_ms=200]
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "medvlmbench/backends/api_model.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"

int main(int argc, char** argv) {
  const int latency_ms = argc > 1 ? std::atoi(argv[1]) : 200;
  mvb::log::init("warn");
  httplib::Server svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(96); };
  svr.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));
    res.set_content(
        R"({"choices":[{"message":{"role":"assistant","content":"Lung"},"finish_reason":"stop"}],)"
        R"("usage":{"prompt_tokens":120,"completion_tokens":1}})",
        "application/json");
  });
  const int port = svr.bind_to_any_port("127.0.0.1");
  std::thread server([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  // A 64x64 image, so each request carries a real PNG payload.
  const std::string dir = "/tmp/mvb_api_bench." + std::to_string(::getpid());
  mvb::io::create_directories(dir);
  mvb::RgbImage img;
  img.width = img.height = 64;
  for (int i = 0; i < 64 * 64 * 3; ++i) img.pixels.push_back(static_cast<uint8_t>(i * 7));
  mvb::io::write_file_atomic(dir + "/img.png", mvb::api::png_bytes(img));

  std::printf("API backend throughput, loopback server with %d ms latency per request\n", latency_ms);
  std::printf("%-12s %-9s %-10s %-12s %s\n", "concurrency", "requests", "seconds", "requests/s", "vs c=1");
  double base_rate = 0;
  for (int c : {1, 8, 32}) {
    mvb::ModelSpec spec;
    spec.name = "openai-compatible";
    spec.options = {{"api_base", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                    {"api_model", "bench"},
                    {"api_concurrency", c},
                    {"no_cache", true}};
    auto model = mvb::api::make_api_model(
        mvb::api::Provider{"openai-compatible", mvb::api::Protocol::kChat, "", "", {}, false, "Authorization: Bearer "},
        spec);
    auto* gen = dynamic_cast<mvb::GenerativeModel*>(model.get());
    const int n = c == 1 ? 15 : c * 12;
    std::vector<mvb::GenerationRequest> all(n);
    for (int i = 0; i < n; ++i) {
      all[i].prompt = "Question " + std::to_string(i) + ": what organ is shown?";
      all[i].images = {mvb::ImageRef::file(dir + "/img.png")};
    }
    const auto t0 = std::chrono::steady_clock::now();
    int errors = 0;
    const size_t batch = static_cast<size_t>(gen->preferred_batch_size());
    for (size_t start = 0; start < all.size(); start += batch) {
      std::vector<mvb::GenerationRequest> b(all.begin() + start, all.begin() + std::min(all.size(), start + batch));
      for (const auto& r : gen->generate(b)) errors += !r.error.empty();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = n / s;
    if (c == 1) base_rate = rate;
    std::printf("%-12d %-9d %-10.3f %-12.2f %.1fx%s\n", c, n, s, rate, rate / base_rate,
                errors ? " (with errors!)" : "");
  }
  svr.stop();
  server.join();
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
