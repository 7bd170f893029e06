// LocalVlm::generate: what every local generative model does the same way (see local_vlm.h).
#include "medvlmbench/models/local_vlm.h"

#include <chrono>
#include <exception>
#include <map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/nn/cpu_threads.h"

namespace mvb {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> to_int32(const std::vector<int64_t>& ids) { return std::vector<int32_t>(ids.begin(), ids.end()); }

// The text before the first stop string (generation stops after the step that completed it, so the
// string itself and anything decoded with it are not part of the answer).
std::string cut_at_stop_strings(std::string text, const std::vector<std::string>& stops) {
  size_t cut = std::string::npos;
  for (const auto& s : stops)
    if (!s.empty()) cut = std::min(cut, text.find(s));
  if (cut != std::string::npos) text.resize(cut);
  return text;
}

}  // namespace

at::Tensor scatter_image_chunks(at::Tensor embeds, const nn::MultimodalInput& chunks) {
  const int64_t L = embeds.size(0);
  at::Tensor groups = at::zeros({L}, at::kLong);
  int64_t at_pos = 0;
  for (const auto& c : chunks) {
    const int64_t n = c.embeds.defined() ? c.embeds.size(0) : static_cast<int64_t>(c.token_ids.size());
    MVB_CHECK(at_pos + n <= L, "the prompt's chunks hold more positions than its ", L, " ids");
    if (c.embeds.defined()) {
      embeds.narrow(0, at_pos, n).copy_(c.embeds);
      groups.narrow(0, at_pos, n).fill_(c.bidirectional_group);
    }
    at_pos += n;
  }
  MVB_CHECK(at_pos == L, "the prompt's chunks hold ", at_pos, " positions but it has ", L, " ids");
  return groups;
}

std::function<std::string(const std::vector<int64_t>&)> LocalVlm::stop_string_decoder() const {
  // Stop strings are matched in the raw text, special tokens included.
  return [this](const std::vector<int64_t>& ids) {
    return tokenizer().decode(to_int32(ids), /*skip_special_tokens=*/false);
  };
}

std::string LocalVlm::decode_answer(const std::vector<int64_t>& ids) const {
  return trim(tokenizer().decode(to_int32(ids), /*skip_special_tokens=*/true));
}

std::vector<LocalVlm::Prepared> LocalVlm::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<Prepared> out;
  out.reserve(requests.size());
  for (const GenerationRequest* r : requests) out.push_back(prepare_one(*r));
  return out;
}

LocalVlm::LocalVlm(LocalVlmOptions options) : options_(std::move(options)) {
  nn::make_mkl_reproducible();  // the same answers run to run under MKL (nn/cpu_threads.h)
}

LocalVlm::Prepared LocalVlm::prepare_one(const GenerationRequest&) {
  // A programming error, not a bad request: every architecture must override prepare() or prepare_one().
  throw Error("this local VLM overrides neither LocalVlm::prepare() nor LocalVlm::prepare_one()");
}

int64_t LocalVlm::resolve_max_new_tokens(const GenerationRequest& request, int64_t reference_default) const {
  if (request.max_new_tokens) return *request.max_new_tokens;
  if (options_.max_new_tokens > 0) return options_.max_new_tokens;
  return reference_default;
}

std::vector<std::vector<int64_t>> LocalVlm::generate_ids(const std::vector<GenerationRequest>& requests) {
  MVB_CHECK(!requests.empty(), "generate_ids of no requests");
  std::vector<const GenerationRequest*> ptrs;
  nn::GenerateOptions opts;
  for (const auto& r : requests) {
    ptrs.push_back(&r);
    opts.seeds.push_back(r.seed);
  }
  std::vector<nn::MultimodalInput> inputs;
  for (auto& p : prepare(ptrs)) inputs.push_back(std::move(p.input));
  // One decoding setting per batch: the engine takes one config (generate() groups like requests).
  const nn::GenerationConfig cfg = generation_config(requests.front());
  if (!cfg.stop_strings.empty()) opts.decode = stop_string_decoder();
  std::vector<std::vector<int64_t>> ids;
  for (auto& s : nn::generate(backend(), inputs, cfg, opts)) ids.push_back(std::move(s.ids));
  return ids;
}

std::vector<GenerationResult> LocalVlm::generate(const std::vector<GenerationRequest>& batch) {
  std::vector<GenerationResult> results(batch.size());
  std::vector<Prepared> prepared(batch.size());
  std::vector<bool> ready(batch.size(), false);

  // The processor runs over the whole batch (so vision towers can batch their images); when one
  // request is bad, the batch is redone request by request so only that request becomes an error.
  std::vector<const GenerationRequest*> all;
  for (const auto& r : batch) all.push_back(&r);
  try {
    auto p = prepare(all);
    MVB_CHECK(p.size() == batch.size(), "processor returned ", p.size(), " inputs for ", batch.size(), " requests");
    for (size_t i = 0; i < batch.size(); ++i) prepared[i] = std::move(p[i]), ready[i] = true;
  } catch (const std::exception&) {
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        auto p = prepare({&batch[i]});
        MVB_CHECK(p.size() == 1, "processor returned ", p.size(), " inputs for one request");
        prepared[i] = std::move(p[0]);
        ready[i] = true;
      } catch (const std::exception& e) {
        results[i].error = e.what();
      }
    }
  }

  // Requests with the same decoding settings generate together (agents mix temperatures in a batch).
  std::map<std::string, std::vector<size_t>> groups;
  std::map<std::string, nn::GenerationConfig> configs;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!ready[i]) continue;
    try {
      nn::GenerationConfig cfg = generation_config(batch[i]);
      const std::string key = cfg.to_json().dump();
      configs.emplace(key, cfg);
      groups[key].push_back(i);
    } catch (const std::exception& e) {
      results[i].error = e.what();
    }
  }

  for (const auto& [key, members] : groups) {
    const nn::GenerationConfig& cfg = configs.at(key);
    std::vector<nn::MultimodalInput> inputs;
    nn::GenerateOptions opts;
    for (size_t i : members) {
      inputs.push_back(prepared[i].input);
      opts.seeds.push_back(batch[i].seed);
    }
    if (!cfg.stop_strings.empty()) opts.decode = stop_string_decoder();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<nn::GeneratedSequence> out;
    try {
      out = nn::generate(backend(), inputs, cfg, opts);
      MVB_CHECK(out.size() == members.size(), "generate returned ", out.size(), " sequences for ", members.size());
    } catch (const std::exception& e) {
      for (size_t i : members) results[i].error = std::string("generation failed: ") + e.what();
      continue;
    }
    const double wall = seconds_since(t0);
    for (size_t k = 0; k < members.size(); ++k) {
      const size_t i = members[k];
      GenerationResult& r = results[i];
      r.text = trim(cut_at_stop_strings(decode_answer(out[k].ids), cfg.stop_strings));
      if (!prepared[i].echo_ids.empty()) {
        // The reference's string: prompt and answer decoded together (skip_special_tokens drops image
        // placeholders and BOS), then stripped.
        std::vector<int64_t> all = prepared[i].echo_ids;
        all.insert(all.end(), out[k].ids.begin(), out[k].ids.end());
        r.extra["answer_only"] = r.text;
        r.text = trim(cut_at_stop_strings(decode_answer(all), cfg.stop_strings));
      }
      r.prompt_tokens = out[k].prompt_tokens;
      r.completion_tokens = static_cast<int64_t>(out[k].ids.size());
      // Batched generation: a sample's latency is the wall time of the batch it ran in.
      r.latency_s = wall;
      r.extra["prompt"] = prepared[i].prompt_text;
      r.extra["finish_reason"] = out[k].finish_reason;
      r.extra["generation_batch"] = members.size();
      r.extra["prefill_s"] = out[k].prefill_s;
      r.extra["decode_s"] = out[k].decode_s;
    }
  }
  return results;
}

}  // namespace mvb
