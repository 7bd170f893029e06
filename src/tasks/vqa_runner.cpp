// Off-the-shelf VQA with a generative model (API backends and local VLMs alike), plus the shared
// generative loop (generative_runner.h). The prompt is Sample::prompt, which the dataset loaders
// fill with the reference's templates (yes/no template, multiple-choice suffix); API backends add
// the reference's "answer concisely" suffix themselves, and the row records the prompt as sent.
#include <chrono>

#include "generative_runner.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/core/strings.h"

namespace mvb {
namespace {

// Copies token counts and latency when the model reported them.
void add_generation_fields(const GenerationResult& r, nlohmann::json& row) {
  if (r.prompt_tokens >= 0) row["prompt_tokens"] = r.prompt_tokens;
  if (r.completion_tokens >= 0) row["completion_tokens"] = r.completion_tokens;
  row["latency_s"] = r.latency_s;
}

struct Totals {
  int64_t rows = 0, errors = 0, prompt_tokens = 0, completion_tokens = 0;
  double latency_sum = 0;
  int64_t latency_n = 0;
};

}  // namespace

void run_generative(RunContext& ctx, const GenerativeTaskSpec& spec) {
  auto* gen = dynamic_cast<GenerativeModel*>(ctx.model);
  MVB_CHECK(gen != nullptr, "usage ", kOffTheShelfUsage, "/", spec.task, " needs a generative model, not a ",
            ctx.model ? ctx.model->family() : std::string("missing"), " model");
  const int batch_size = ctx.cfg.batch_size > 0 ? ctx.cfg.batch_size : std::max(1, gen->preferred_batch_size());
  Progress progress(spec.task, ctx.total > 0 ? static_cast<size_t>(ctx.total) : 0);
  Totals totals;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Sample> batch;
  bool more = true;
  while (more && !cancel_requested()) {
    batch.clear();
    Sample s;
    while (static_cast<int>(batch.size()) < batch_size && (more = ctx.samples->next(s))) batch.push_back(std::move(s));
    if (batch.empty()) break;

    // Samples that cannot be sent get their error row in place, so rows stay in dataset order.
    std::vector<GenerationRequest> requests;
    std::vector<std::string> early_error(batch.size());
    for (size_t b = 0; b < batch.size(); ++b) {
      const Sample& sample = batch[b];
      if (!sample.error.empty()) {
        early_error[b] = sample.error;
      } else if (sample.images.empty()) {
        early_error[b] = "sample has no image";
      } else {
        GenerationRequest req;
        req.prompt = sample.prompt.empty() && spec.fallback_prompt ? spec.fallback_prompt(sample) : sample.prompt;
        req.images = sample.images;
        // Unset flags leave the model's own defaults (the reference's max_new_tokens, its
        // generation_config.json; API models: their api_* settings).
        if (ctx.cfg.max_new_tokens > 0) req.max_new_tokens = ctx.cfg.max_new_tokens;
        if (ctx.cfg.temperature >= 0) req.temperature = ctx.cfg.temperature;
        req.seed = generation_seed(ctx.cfg.seed, sample.id);
        requests.push_back(std::move(req));
      }
    }
    std::vector<GenerationResult> results;
    if (!requests.empty()) results = gen->generate(requests);  // a systemic failure (bad key) throws
    MVB_CHECK(results.size() == requests.size(), "model returned ", results.size(), " results for ", requests.size(),
              " requests");
    size_t next = 0;
    for (size_t b = 0; b < batch.size(); ++b) {
      const Sample& sample = batch[b];
      if (!early_error[b].empty()) {
        ctx.sink->write(error_row(sample, early_error[b]));
        ++totals.errors;
        continue;
      }
      const GenerationRequest& req = requests[next];
      const GenerationResult& r = results[next++];
      // Requests cut short by Ctrl-C get no row, so --resume sends them again.
      if (r.extra.value("cancelled", false)) continue;
      const std::string prompt = r.extra.value("prompt", req.prompt);
      if (!r.error.empty()) {
        nlohmann::json row = error_row(sample, r.error);
        row["prompt"] = prompt;
        add_generation_fields(r, row);
        ctx.sink->write(row);
        ++totals.errors;
        continue;
      }
      nlohmann::json row = {{"id", sample.id},
                            {"image_path", row_image_path(sample)},
                            {"prompt", prompt},
                            {"answer", sample.answer},
                            {"prediction", trim(r.text)},
                            {"modality", sample.modality.empty() ? ctx.dataset.modality : sample.modality},
                            {"metadata", sample.metadata}};
      // The prompt before the model added to it (API models append the reference's "answer concisely"
      // suffix inside the model, so the reference's predictions.json `qs` does not have it).
      if (prompt != req.prompt) row["qs"] = req.prompt;
      if (spec.add_fields) spec.add_fields(sample, row);
      add_generation_fields(r, row);
      ctx.sink->write(row);
      ++totals.rows;
      if (r.prompt_tokens > 0) totals.prompt_tokens += r.prompt_tokens;
      if (r.completion_tokens > 0) totals.completion_tokens += r.completion_tokens;
      totals.latency_sum += r.latency_s;
      ++totals.latency_n;
    }
    ctx.sink->checkpoint();
    progress.advance(batch.size());
  }
  progress.finish();

  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The generation settings the runner sent (the model's describe() in run.json has the config
  // that resulted, defaults included).
  nlohmann::json requested = {{"seed", ctx.cfg.seed}};
  if (ctx.cfg.max_new_tokens > 0) requested["max_new_tokens"] = ctx.cfg.max_new_tokens;
  if (ctx.cfg.temperature >= 0) requested["temperature"] = ctx.cfg.temperature;
  nlohmann::json stats = {{"batch_size", batch_size},
                          {"generation_request", requested},
                          {"predictions", totals.rows},
                          {"errors", totals.errors},
                          {"prompt_tokens", totals.prompt_tokens},
                          {"completion_tokens", totals.completion_tokens},
                          {"mean_latency_s", totals.latency_n ? totals.latency_sum / totals.latency_n : 0.0},
                          {"wall_s", wall}};
  const nlohmann::json described = ctx.model->describe();
  if (described.contains("api_usage")) {
    const auto& u = described["api_usage"];
    stats["api_usage"] = u;
    const std::string cost = u.contains("cost_usd") && u["cost_usd"].is_number()
                                 ? fmt::format("${:.4f}", u["cost_usd"].get<double>())
                                 : std::string("unknown (no price for this model in the price table)");
    spdlog::info("API usage: {} requests sent, {} cache hits, {} retries, {} failed; tokens in {} / out {}; cost {}",
                 u.value("http_requests", 0), u.value("cache_hits", 0), u.value("retries", 0), u.value("failed", 0),
                 u.value("prompt_tokens", 0), u.value("completion_tokens", 0), cost);
  }
  ctx.stats.update(stats);
}

namespace {

class VqaRunner : public UsageRunner {
 public:
  void run(RunContext& ctx) override {
    GenerativeTaskSpec spec;
    spec.task = "vqa";
    // The reference's templates (REFERENCE.md §2), for loaders that leave the prompt to the runner.
    spec.fallback_prompt = [](const Sample& s) {
      const std::string a = to_lower(trim(s.answer));
      return a == "yes" || a == "no" ? "Answer the following question about the image with yes or no. " + s.question
                                     : s.question;
    };
    spec.add_fields = [](const Sample& s, nlohmann::json& row) {
      row["question"] = s.question;
      row["question_type"] = s.question_type;
      if (s.question_type == "multi-choice" || !s.choices.empty()) {
        nlohmann::json choices = nlohmann::json::array();
        for (const auto& c : s.choices) choices.push_back({{"letter", c.letter}, {"text", c.text}});
        row["choices"] = choices;
      }
    };
    run_generative(ctx, spec);
  }
};

}  // namespace

MVB_REGISTER(usage_registry(), usage_key(kOffTheShelfUsage, "vqa"),
             UsageEntry{kOffTheShelfUsage,
                        "vqa",
                        "eval",
                        {"generative"},
                        "Off-the-shelf visual question answering with a generative model (local or API)",
                        [] { return std::make_unique<VqaRunner>(); }});

}  // namespace mvb
