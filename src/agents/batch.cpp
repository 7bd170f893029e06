// The batch driver: one thread per sample runs the agent's straight-line logic; its Caller posts the
// calls it needs and blocks. When every sample of the batch is blocked or finished, the driver sends
// all posted calls in one GenerativeModel::generate() (a stage), hands each sample its results and
// lets them run to their next calls. Samples' calls stay in their own order; independent calls of a
// sample (two experts, several critics) go out in the same stage.
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "medvlmbench/agents/agents.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"

namespace mvb::agents {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

class Gate {
 public:
  explicit Gate(size_t jobs) : slots_(jobs), running_(jobs), live_(jobs) {}

  struct Slot {
    std::vector<AgentCall> calls;
    std::vector<CallResult> results;
    bool posted = false, answered = false;
  };

  // From job j's thread: post calls and wait for their results.
  std::vector<CallResult> call(size_t j, const std::vector<AgentCall>& calls) {
    std::unique_lock<std::mutex> lock(mu_);
    Slot& s = slots_[j];
    s.calls = calls;
    s.posted = true;
    s.answered = false;
    --running_;
    driver_cv_.notify_one();
    job_cv_.wait(lock, [&] { return s.answered; });
    s.posted = false;
    return std::move(s.results);
  }

  void finished() {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    --live_;
    driver_cv_.notify_one();
  }

  // Driver: waits until every live job is blocked; returns the jobs with posted calls (empty: all done).
  std::vector<size_t> wait_stage() {
    std::unique_lock<std::mutex> lock(mu_);
    driver_cv_.wait(lock, [&] { return running_ == 0; });
    std::vector<size_t> ready;
    for (size_t j = 0; j < slots_.size(); ++j)
      if (slots_[j].posted && !slots_[j].answered) ready.push_back(j);
    return ready;
  }
  const std::vector<AgentCall>& calls(size_t j) const { return slots_[j].calls; }

  void answer(const std::vector<size_t>& jobs, std::vector<std::vector<CallResult>> results) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t k = 0; k < jobs.size(); ++k) {
      slots_[jobs[k]].results = std::move(results[k]);
      slots_[jobs[k]].answered = true;
      ++running_;
    }
    job_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable driver_cv_, job_cv_;
  std::vector<Slot> slots_;
  size_t running_, live_;
};

class GateCaller : public Caller {
 public:
  GateCaller(Gate& gate, size_t job) : gate_(gate), job_(job) {}
  std::vector<CallResult> call(const std::vector<AgentCall>& calls) override {
    if (calls.empty()) return {};
    return gate_.call(job_, calls);
  }

 private:
  Gate& gate_;
  size_t job_;
};

}  // namespace

uint64_t call_seed(uint64_t sample_seed, const std::string& role, int attempt) {
  return splitmix64(sample_seed ^ splitmix64(fnv1a(role) + static_cast<uint64_t>(attempt)));
}

nlohmann::json StepRecord::to_json() const {
  nlohmann::json j = {{"role", role},
                      {"attempt", attempt},
                      {"stage", stage},
                      {"prompt", prompt},
                      {"temperature", temperature ? nlohmann::json(*temperature) : nlohmann::json(nullptr)},
                      {"seed", seed},
                      {"output", output},
                      {"latency_s", latency_s},
                      {"cached", cached},
                      {"used", used}};
  j["sent_prompt"] = sent_prompt;
  if (prompt_tokens >= 0) j["prompt_tokens"] = prompt_tokens;
  if (completion_tokens >= 0) j["completion_tokens"] = completion_tokens;
  if (!error.empty()) j["error"] = error;
  return j;
}

std::vector<AgentJobResult> run_agent_batch(GenerativeModel& model, const std::vector<AgentJob>& jobs,
                                            const AgentFn& agent, const DriverOptions& options, DriverStats* stats) {
  std::vector<AgentJobResult> results(jobs.size());
  if (jobs.empty()) return results;
  Gate gate(jobs.size());
  std::vector<std::thread> threads;
  threads.reserve(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    threads.emplace_back([&, j] {
      GateCaller caller(gate, j);
      try {
        results[j].outcome = agent(caller, jobs[j]);
      } catch (const std::exception& e) {
        results[j].outcome.error = e.what();
      }
      gate.finished();
    });
  }

  std::exception_ptr fatal;
  int stage = 0;
  for (;;) {
    const std::vector<size_t> ready = gate.wait_stage();
    if (ready.empty()) break;
    ++stage;
    // Every posted call of this stage, in job order.
    std::vector<GenerationRequest> requests;
    std::vector<std::pair<size_t, size_t>> where;  // (job, index of the call within the job's post)
    for (size_t j : ready) {
      const auto& calls = gate.calls(j);
      for (size_t c = 0; c < calls.size(); ++c) {
        GenerationRequest req;
        req.prompt = calls[c].prompt;
        req.images = jobs[j].images;
        req.temperature = calls[c].temperature;
        req.seed = call_seed(jobs[j].seed, calls[c].role, calls[c].attempt);
        requests.push_back(std::move(req));
        where.emplace_back(j, c);
      }
    }
    std::vector<GenerationResult> generated(requests.size());
    const bool stop = fatal || cancel_requested();
    if (!stop) {
      const size_t chunk = options.max_requests_per_generate > 0
                               ? static_cast<size_t>(options.max_requests_per_generate)
                               : requests.size();
      try {
        for (size_t b = 0; b < requests.size(); b += chunk) {
          std::vector<GenerationRequest> part(requests.begin() + b,
                                              requests.begin() + std::min(requests.size(), b + chunk));
          auto out = model.generate(part);
          MVB_CHECK(out.size() == part.size(), "model returned ", out.size(), " results for ", part.size(),
                    " requests");
          for (size_t k = 0; k < out.size(); ++k) generated[b + k] = std::move(out[k]);
          if (stats) {
            ++stats->generate_calls;
            stats->requests += static_cast<int64_t>(part.size());
          }
        }
      } catch (...) {
        fatal = std::current_exception();  // a rejected key: stop every sample, rethrow below
      }
    }
    if (stats) ++stats->stages;
    std::vector<std::vector<CallResult>> answers(ready.size());
    for (size_t k = 0; k < ready.size(); ++k) answers[k].resize(gate.calls(ready[k]).size());
    for (size_t r = 0; r < requests.size(); ++r) {
      const auto [j, c] = where[r];
      const size_t k = static_cast<size_t>(std::find(ready.begin(), ready.end(), j) - ready.begin());
      const GenerationResult& g = generated[r];
      CallResult& out = answers[k][c];
      if (fatal || cancel_requested() || g.extra.value("cancelled", false)) {
        out.cancelled = true;
        continue;
      }
      out.text = g.text;
      out.error = g.error;
      const AgentCall& call = gate.calls(j)[c];
      StepRecord step;
      step.role = call.role;
      step.attempt = call.attempt;
      step.stage = stage;
      step.prompt = call.prompt;
      step.sent_prompt = g.extra.value("prompt", call.prompt);
      step.temperature = call.temperature;
      step.seed = requests[r].seed;
      step.output = g.text;
      step.error = g.error;
      step.prompt_tokens = g.prompt_tokens;
      step.completion_tokens = g.completion_tokens;
      step.latency_s = g.latency_s;
      step.cached = g.extra.value("cached", false);
      results[j].steps.push_back(std::move(step));
    }
    gate.answer(ready, std::move(answers));
  }
  for (auto& t : threads) t.join();
  for (auto& r : results)
    for (auto& s : r.steps) s.used = !r.outcome.unused_calls.count(s.role + "#" + std::to_string(s.attempt));
  if (fatal) std::rethrow_exception(fatal);
  return results;
}

}  // namespace mvb::agents
