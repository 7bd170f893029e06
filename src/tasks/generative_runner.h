// The generative eval loop shared by the vqa and caption usage runners (private to src/tasks).
// Reads samples in batches of the model's preferred size (API backends: a few times their
// concurrency) or --batch_size, sends image + prompt to GenerativeModel::generate, and writes one
// row per sample in dataset order (schema: tasks/rows.h). A failed sample (loader error, image that
// cannot be decoded, request whose retries ran out) becomes an error row; the run carries on.
// Each request carries --max_new_tokens / --temperature when given (unset = the model's defaults)
// and a seed from --seed and the sample's id (generation_seed in usage.h).
// Cancellation is checked between batches.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/models/model.h"
#include "medvlmbench/tasks/usage.h"

namespace mvb {

struct GenerativeTaskSpec {
  std::string task;  // "vqa" or "caption"
  // The prompt when the loader left Sample::prompt empty.
  std::function<std::string(const Sample&)> fallback_prompt;
  // Task-specific row fields from the sample (question, choices ...).
  std::function<void(const Sample&, nlohmann::json&)> add_fields;
};

void run_generative(RunContext& ctx, const GenerativeTaskSpec& spec);

}  // namespace mvb
