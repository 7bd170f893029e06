// The usage runners `--usage mdagent` and `--usage ucagent` for --task vqa and caption: read samples in
// batches, run the agent on every sample of a batch through run_agent_batch (one generate() per stage
// for the whole batch), and write one row per sample in dataset order. A row carries the answer as
// "prediction", the reference's `trace` (copied into predictions.json by the evaluators) and "agent":
// every call with its role, prompt, temperature, seed, output, tokens and latency, plus the per-sample
// counts that metrics.json's "agent" summary is made of (tasks/agent_summary.h). Rows are written
// whole when a sample finishes; a sample cut short by Ctrl-C gets no row, so --resume redoes it.
#include <chrono>

#include "medvlmbench/agents/agents.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/tasks/usage.h"

namespace mvb::agents {
namespace {

// The task prompt the off-the-shelf runners send (vqa_runner.cpp / caption_runner.cpp), for loaders
// that leave Sample::prompt empty.
std::string task_prompt(const std::string& task, const Sample& s) {
  if (!s.prompt.empty()) return s.prompt;
  if (task == "caption") return "Can you provide a medical report for this image?";
  const std::string a = to_lower(trim(s.answer));
  return a == "yes" || a == "no" ? "Answer the following question about the image with yes or no. " + s.question
                                 : s.question;
}

void add_task_fields(const std::string& task, const Sample& s, nlohmann::json& row) {
  if (task != "vqa") return;
  row["question"] = s.question;
  row["question_type"] = s.question_type;
  if (s.question_type == "multi-choice" || !s.choices.empty()) {
    nlohmann::json choices = nlohmann::json::array();
    for (const auto& c : s.choices) choices.push_back({{"letter", c.letter}, {"text", c.text}});
    row["choices"] = choices;
  }
}

// A sample's seed: --seed and the sample id, so a sample's draws do not depend on its batch.
uint64_t sample_seed(int seed, const std::string& id) {
  return call_seed(static_cast<uint64_t>(static_cast<int64_t>(seed)), "sample:" + id, 0);
}

struct Price {
  double input = 0, output = 0;
};

// The API price per token, when the model is an API backend with a known price.
std::optional<Price> model_price(const Model& model) {
  const nlohmann::json d = model.describe();
  if (!d.contains("api_usage") || !d["api_usage"].contains("price_usd_per_mtok")) return std::nullopt;
  const auto& p = d["api_usage"]["price_usd_per_mtok"];
  return Price{p.value("input", 0.0) / 1e6, p.value("output", 0.0) / 1e6};
}

class AgentRunner : public UsageRunner {
 public:
  AgentRunner(std::string usage, std::string task) : usage_(std::move(usage)), task_(std::move(task)) {}

  void run(RunContext& ctx) override {
    auto* gen = dynamic_cast<GenerativeModel*>(ctx.model);
    MVB_CHECK(gen != nullptr, "usage ", usage_, "/", task_, " needs a generative model, not a ",
              ctx.model ? ctx.model->family() : std::string("missing"), " model");
    MVB_USAGE_CHECK(ctx.cfg.ucagent_retries >= 0, "--ucagent_retries must be >= 0, got ", ctx.cfg.ucagent_retries);
    const int batch_size = ctx.cfg.batch_size > 0 ? ctx.cfg.batch_size : std::max(1, gen->preferred_batch_size());
    const std::optional<Price> price = model_price(*ctx.model);
    AgentFn agent;
    if (usage_ == "mdagent") {
      const std::string mode = ctx.cfg.mdagent_mode;
      agent = [mode](Caller& c, const AgentJob& job) { return run_mdagent(c, job.qs, mode); };
    } else {
      UcAgentOptions opt;
      opt.retries = ctx.cfg.ucagent_retries;
      agent = [opt](Caller& c, const AgentJob& job) { return run_ucagent(c, job.qs, opt); };
    }
    spdlog::info("{}: batches of {} samples, one generate() per stage{}", usage_, batch_size,
                 usage_ == "mdagent" ? ", mode " + ctx.cfg.mdagent_mode : "");

    Progress progress(task_, ctx.total > 0 ? static_cast<size_t>(ctx.total) : 0);
    DriverStats driver;
    int64_t rows = 0, errors = 0, calls = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Sample> batch;
    bool more = true;
    while (more && !cancel_requested()) {
      batch.clear();
      Sample s;
      while (static_cast<int>(batch.size()) < batch_size && (more = ctx.samples->next(s)))
        batch.push_back(std::move(s));
      if (batch.empty()) break;
      std::vector<AgentJob> jobs;
      std::vector<int> job_of(batch.size(), -1);
      for (size_t b = 0; b < batch.size(); ++b) {
        if (!batch[b].error.empty() || batch[b].images.empty()) continue;
        job_of[b] = static_cast<int>(jobs.size());
        jobs.push_back({task_prompt(task_, batch[b]), batch[b].images, sample_seed(ctx.cfg.seed, batch[b].id)});
      }
      const auto results = run_agent_batch(*gen, jobs, agent, {}, &driver);
      for (size_t b = 0; b < batch.size(); ++b) {
        const Sample& sample = batch[b];
        if (job_of[b] < 0) {
          ctx.sink->write(error_row(sample, sample.error.empty() ? "sample has no image" : sample.error));
          ++errors;
          continue;
        }
        const AgentJobResult& r = results[static_cast<size_t>(job_of[b])];
        if (r.outcome.cancelled) continue;  // no row: --resume redoes the whole sample
        nlohmann::json row = make_row(ctx, sample, jobs[static_cast<size_t>(job_of[b])].qs, r, price);
        calls += static_cast<int64_t>(r.steps.size());
        if (!r.outcome.error.empty())
          ++errors;
        else
          ++rows;
        ctx.sink->write(row);
      }
      ctx.sink->checkpoint();
      progress.advance(batch.size());
    }
    progress.finish();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json stats = {
        {"batch_size", batch_size},
        {"predictions", rows},
        {"errors", errors},
        {"agent",
         {{"usage", usage_}, {"calls", calls}, {"generate_calls", driver.generate_calls}, {"stages", driver.stages}}},
        {"wall_s", wall}};
    const nlohmann::json described = ctx.model->describe();
    if (described.contains("api_usage")) stats["api_usage"] = described["api_usage"];
    ctx.stats.update(stats);
    spdlog::info("{}: {} samples, {} model calls in {} generate() calls", usage_, rows + errors, calls,
                 driver.generate_calls);
  }

 private:
  nlohmann::json make_row(const RunContext& ctx, const Sample& sample, const std::string& qs, const AgentJobResult& r,
                          const std::optional<Price>& price) const {
    const AgentOutcome& o = r.outcome;
    int64_t prompt_tokens = 0, completion_tokens = 0;
    bool tokens_known = true;
    double latency = 0;
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : r.steps) {
      steps.push_back(s.to_json());
      latency += s.latency_s;
      if (s.prompt_tokens < 0 || s.completion_tokens < 0) tokens_known = false;
      prompt_tokens += std::max<int64_t>(0, s.prompt_tokens);
      completion_tokens += std::max<int64_t>(0, s.completion_tokens);
    }
    nlohmann::json agent = {
        {"name", usage_}, {"calls", r.steps.size()}, {"unused_calls", o.unused_calls.size()}, {"steps", steps}};
    if (usage_ == "mdagent") {
      agent["mode"] = o.mode;
    } else {
      agent["level"] = o.level;
      agent["fallback"] = o.fallback;
      if (o.fallback) agent["fallback_reason"] = o.fallback_reason;
      agent["agreement"] = o.agreement ? nlohmann::json(*o.agreement) : nlohmann::json(nullptr);
      agent["verified"] = o.verified ? nlohmann::json(*o.verified) : nlohmann::json(nullptr);
    }
    if (tokens_known) {
      agent["prompt_tokens"] = prompt_tokens;
      agent["completion_tokens"] = completion_tokens;
    }
    // What the sample's calls cost at the price table's rates (cached answers included, so a re-run
    // reports the same figure).
    agent["cost_usd"] = price && tokens_known
                            ? nlohmann::json(prompt_tokens * price->input + completion_tokens * price->output)
                            : nlohmann::json(nullptr);

    nlohmann::json row;
    if (!o.error.empty()) {
      row = error_row(sample, usage_ + ": " + o.error);
      row["prompt"] = qs;
    } else {
      row = {{"id", sample.id},
             {"image_path", row_image_path(sample)},
             {"prompt", qs},
             {"answer", sample.answer},
             {"prediction", trim(o.answer)},
             {"modality", sample.modality.empty() ? ctx.dataset.modality : sample.modality},
             {"metadata", sample.metadata}};
      add_task_fields(task_, sample, row);
    }
    if (tokens_known) {
      row["prompt_tokens"] = prompt_tokens;
      row["completion_tokens"] = completion_tokens;
    }
    row["latency_s"] = latency;
    row["trace"] = o.trace;
    row["agent"] = agent;
    return row;
  }

  std::string usage_, task_;
};

UsageEntry agent_entry(const std::string& usage, const std::string& task, const std::string& description) {
  return UsageEntry{usage,          task,        "agent",
                    {"generative"}, description, [usage, task] { return std::make_unique<AgentRunner>(usage, task); }};
}

constexpr const char* kMdDescription =
    "MDAgent multi-role team over any generative model (--mdagent_mode basic|intermediate|advanced|adaptive)";
constexpr const char* kUcDescription =
    "UCAgent hierarchical experts -> verifier -> critics/leader debate, zero-shot fallback (--ucagent_retries)";

}  // namespace

MVB_REGISTER(usage_registry(), usage_key("mdagent", "vqa"), agent_entry("mdagent", "vqa", kMdDescription));
MVB_REGISTER(usage_registry(), usage_key("mdagent", "caption"), agent_entry("mdagent", "caption", kMdDescription));
MVB_REGISTER(usage_registry(), usage_key("ucagent", "vqa"), agent_entry("ucagent", "vqa", kUcDescription));
MVB_REGISTER(usage_registry(), usage_key("ucagent", "caption"), agent_entry("ucagent", "caption", kUcDescription));

}  // namespace mvb::agents
