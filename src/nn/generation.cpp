// The generation engine: assembles the prompts, runs one left-padded batched prefill, then decodes one
// token per step over the KV cache until every sequence has finished.
//
// What transformers' generate() does and this keeps: the logits processors in its order on float32
// scores (logits_processors.cpp), argmax for greedy, softmax + multinomial for sampling, EOS / stop
// strings / max_new_tokens as stopping criteria, positions continuing from the prompt's largest one.
// What differs, on purpose: finished rows leave the batch instead of being fed padding (the live
// rows' tokens are unchanged, the work shrinks), and every sequence samples from its own generator so
// its tokens do not depend on the batch it was put in.
#include "medvlmbench/nn/generation.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One prompt assembled: embeddings [L, hidden], positions [streams, L], the ids the repetition penalty
// sees, and the bidirectional group of every position.
struct Prompt {
  at::Tensor embeds;
  at::Tensor positions;
  std::vector<int64_t> penalty_ids;
  std::vector<int64_t> groups;
  bool has_groups = false;
  int64_t next_position = 0;  // largest position + 1: where decoding continues
};

Prompt assemble(GenerationBackend& backend, const MultimodalInput& input, size_t index, int64_t streams) {
  MVB_CHECK(!input.empty(), "generate: input ", index, " has no chunks");
  const auto dev = backend.device();
  const auto dtype = backend.dtype();
  std::vector<at::Tensor> embeds, positions;
  Prompt p;
  int64_t start = 0;  // previous maximum + 1 (0 for the first chunk)
  for (size_t c = 0; c < input.size(); ++c) {
    const InputChunk& chunk = input[c];
    const bool is_text = !chunk.token_ids.empty();
    MVB_CHECK(is_text != chunk.embeds.defined(), "generate: chunk ", c, " of input ", index,
              " must hold either token ids or image embeddings (it holds ", is_text ? "both" : "neither", ")");
    at::Tensor e, pos;
    if (is_text) {
      const auto n = static_cast<int64_t>(chunk.token_ids.size());
      at::Tensor ids = at::tensor(chunk.token_ids, at::kLong).to(dev).unsqueeze(0);
      e = backend.embed_tokens(ids).squeeze(0);
      pos = at::arange(start, start + n, at::kLong).unsqueeze(0).expand({streams, n});
      p.penalty_ids.insert(p.penalty_ids.end(), chunk.token_ids.begin(), chunk.token_ids.end());
    } else {
      e = chunk.embeds.dim() == 3 && chunk.embeds.size(0) == 1 ? chunk.embeds.squeeze(0) : chunk.embeds;
      MVB_CHECK(e.dim() == 2, "generate: image chunk ", c, " of input ", index, " has embeddings of shape ",
                chunk.embeds.sizes(), "; expected [tokens, hidden]");
      const int64_t n = e.size(0);
      if (chunk.relative_positions.defined()) {
        at::Tensor rel = chunk.relative_positions.to(at::kCPU, at::kLong);
        if (rel.dim() == 1) rel = rel.unsqueeze(0);
        MVB_CHECK(rel.dim() == 2 && rel.size(1) == n && (rel.size(0) == streams || rel.size(0) == 1),
                  "generate: image chunk ", c, " of input ", index, " has relative_positions of shape ", rel.sizes(),
                  "; expected [", streams, ", ", n, "] (one row per position stream)");
        pos = (rel + start).expand({streams, n});
      } else {
        pos = at::arange(start, start + n, at::kLong).unsqueeze(0).expand({streams, n});
      }
      p.penalty_ids.insert(p.penalty_ids.end(), chunk.placeholder_ids.begin(), chunk.placeholder_ids.end());
    }
    MVB_CHECK(embeds.empty() || e.size(-1) == embeds.front().size(-1), "generate: chunk ", c, " of input ", index,
              " has hidden size ", e.size(-1), " but the previous chunks have ", embeds.front().size(-1));
    p.groups.insert(p.groups.end(), e.size(0), chunk.bidirectional_group);
    p.has_groups = p.has_groups || chunk.bidirectional_group > 0;
    if (e.size(0) > 0) start = pos.max().item<int64_t>() + 1;
    embeds.push_back(e.to(dev, dtype));
    positions.push_back(pos);
  }
  p.embeds = at::cat(embeds, 0);
  p.positions = at::cat(positions, 1).contiguous();
  p.next_position = start;
  return p;
}

// [B, T] int64, -1 = nothing (left padding and the tails of shorter rows).
at::Tensor padded_ids(const std::vector<const std::vector<int64_t>*>& prompt,
                      const std::vector<std::vector<int64_t>*>& gen, c10::Device dev) {
  const auto B = static_cast<int64_t>(prompt.size());
  int64_t T = 0;
  for (int64_t b = 0; b < B; ++b) T = std::max<int64_t>(T, prompt[b]->size() + gen[b]->size());
  at::Tensor out = at::full({B, T}, -1, at::kLong);
  auto* d = out.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    std::copy(prompt[b]->begin(), prompt[b]->end(), d + b * T);
    std::copy(gen[b]->begin(), gen[b]->end(), d + b * T + prompt[b]->size());
  }
  return out.to(dev);
}

// Whether the text generated so far contains a stop string. Checked after every token, so the first
// hit ends in the newest token (transformers' StopStringCriteria: the stop string ends the sequence).
bool contains_stop_string(const std::string& text, const std::vector<std::string>& stops) {
  for (const auto& stop : stops)
    if (text.find(stop) != std::string::npos) return true;
  return false;
}

// The length of the leading text every input shares, when the batch may run it once (GenerateOptions::
// min_shared_prefix, GenerationBackend::shares_prompt_prefix); 0 otherwise. Every row keeps at least one
// position of its own, so the batched pass still yields each row's last logits.
int64_t shared_prefix_length(const GenerationBackend& backend, const std::vector<MultimodalInput>& inputs,
                             const std::vector<Prompt>& prompts, const GenerateOptions& options) {
  static const bool enabled = [] {
    const char* env = std::getenv("MVB_SHARE_PROMPT_PREFIX");
    return env == nullptr || std::string(env) != "0";
  }();
  if (!enabled || options.min_shared_prefix <= 0 || inputs.size() < 2 || !backend.shares_prompt_prefix()) return 0;
  const std::vector<int64_t>& first = inputs.front().front().token_ids;
  auto common = static_cast<int64_t>(first.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputChunk& lead = inputs[i].front();
    if (lead.token_ids.empty() || lead.bidirectional_group > 0) return 0;
    int64_t same = 0;
    const int64_t limit = std::min<int64_t>(common, lead.token_ids.size());
    while (same < limit && lead.token_ids[same] == first[same]) ++same;
    common = std::min<int64_t>(same, prompts[i].embeds.size(0) - 1);
  }
  return common >= options.min_shared_prefix ? common : 0;
}

}  // namespace

std::vector<GeneratedSequence> generate(GenerationBackend& backend, const std::vector<MultimodalInput>& inputs,
                                        const GenerationConfig& cfg, const GenerateOptions& options) {
  const auto n = static_cast<int64_t>(inputs.size());
  std::vector<GeneratedSequence> out(inputs.size());
  if (n == 0) return out;
  MVB_CHECK(options.seeds.empty() || static_cast<int64_t>(options.seeds.size()) == n,
            "generate: ", options.seeds.size(), " seeds for ", n,
            " inputs; pass one seed per input (or none for seed 0)");
  MVB_CHECK(cfg.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0 (got ", cfg.max_new_tokens, ")");
  MVB_CHECK(!cfg.do_sample || cfg.temperature > 0, "generate: temperature must be > 0 when sampling (got ",
            cfg.temperature, "); set do_sample false for greedy decoding");
  at::NoGradGuard no_grad;
  const auto t_start = Clock::now();
  const auto dev = backend.device();
  const int64_t streams = backend.position_streams();
  MVB_CHECK(streams >= 1, "generate: the backend reports ", streams, " position streams");

  // --- Prompts, left-padded into one batch.
  std::vector<Prompt> prompts;
  prompts.reserve(inputs.size());
  int64_t max_len = 0;
  bool any_groups = false;
  for (int64_t i = 0; i < n; ++i) {
    prompts.push_back(assemble(backend, inputs[i], i, streams));
    max_len = std::max(max_len, prompts.back().embeds.size(0));
    any_groups = any_groups || prompts.back().has_groups;
    out[i].prompt_tokens = prompts.back().embeds.size(0);
    out[i].finish_reason = "length";
  }
  if (cfg.max_new_tokens == 0) return out;
  MVB_CHECK(max_len > 0, "generate: every prompt is empty; nothing to continue from");
  const int64_t hidden = prompts.front().embeds.size(1);
  KVCache cache = backend.make_cache(n, max_len + cfg.max_new_tokens);

  // --- A prefix every prompt shares runs once; each row's cache then starts with it. The batch below holds
  // what follows it: row i is [padding | prompt i after the prefix], so a row reads prefix, padding
  // (masked), rest, while positions and ids stay those of the whole prompt.
  const int64_t prefix = shared_prefix_length(backend, inputs, prompts, options);
  if (prefix > 0) {
    KVCache shared = backend.make_cache(1, prefix);
    DecoderInputs head;
    head.inputs_embeds = prompts.front().embeds.narrow(0, 0, prefix).unsqueeze(0);
    const at::Tensor head_positions = prompts.front().positions.narrow(1, 0, prefix).unsqueeze(1);  // [streams, 1, P]
    head.position_ids = (streams == 1 ? head_positions.select(0, 0) : head_positions).to(dev);
    backend.forward_last(head, shared);
    cache.broadcast_prefix(shared);
  }
  const int64_t rest_len = max_len - prefix;
  at::Tensor embeds = at::zeros({n, rest_len, hidden}, at::TensorOptions().dtype(backend.dtype()).device(dev));
  // transformers gives left padding position 1 (cumsum - 1, then masked_fill 1); it is masked anyway.
  at::Tensor positions = at::ones({streams, n, rest_len}, at::kLong);
  at::Tensor mask = at::zeros({n, max_len}, at::kLong);  // over [prefix | rest_len]
  at::Tensor groups = at::zeros({n, rest_len}, at::kLong);
  if (prefix > 0) mask.narrow(1, 0, prefix).fill_(1);
  std::vector<int64_t> pad(n);
  for (int64_t i = 0; i < n; ++i) {
    const Prompt& p = prompts[i];
    const int64_t L = p.embeds.size(0) - prefix;
    pad[i] = rest_len - L;
    if (L <= 0) continue;
    embeds[i].narrow(0, pad[i], L).copy_(p.embeds.narrow(0, prefix, L));
    positions.select(1, i).narrow(1, pad[i], L).copy_(p.positions.narrow(1, prefix, L));
    mask[i].narrow(0, prefix + pad[i], L).fill_(1);
    if (p.has_groups)
      groups[i].narrow(0, pad[i], L).copy_(at::tensor(p.groups, at::kLong).narrow(0, prefix, L));
  }
  bool padded = *std::max_element(pad.begin(), pad.end()) > 0;
  at::Tensor mask_dev = mask.to(dev);

  DecoderInputs in;
  in.inputs_embeds = embeds;
  in.position_ids = (streams == 1 ? positions.select(0, 0) : positions).to(dev);
  if (padded) in.attention_mask = mask_dev;
  if (any_groups) in.bidirectional_groups = groups.to(dev);
  backend.begin_batch(inputs);

  // --- Per-sequence state. `rows` maps a live batch row to its sequence.
  std::vector<int64_t> rows(n);
  std::vector<int64_t> next_position(n);
  std::vector<at::Generator> gens;
  for (int64_t i = 0; i < n; ++i) {
    rows[i] = i;
    next_position[i] = prompts[i].next_position;
    if (cfg.do_sample) gens.push_back(at::detail::createCPUGenerator(options.seeds.empty() ? 0 : options.seeds[i]));
  }
  const std::unordered_set<int64_t> eos(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end());
  const bool check_stops = !cfg.stop_strings.empty() && options.decode;
  const bool penalty = cfg.repetition_penalty != 1.0;

  at::Tensor logits = backend.forward_last(in, cache).to(at::kFloat);
  // The prompt embeddings are in the cache now; release them for the rest of the decode.
  in = DecoderInputs{};
  embeds.reset();
  for (Prompt& p : prompts) p.embeds.reset();
  // prefill_s: until the first token is chosen (time to first token, for the whole batch);
  // decode_s: from then until the sequence finished.
  auto t_decode = Clock::now();
  double prefill_s = 0;
  for (int64_t step = 0; step < cfg.max_new_tokens; ++step) {
    const auto B = static_cast<int64_t>(rows.size());
    MVB_CHECK(logits.dim() == 2 && logits.size(0) == B, "generate: the backend returned logits of shape ",
              logits.sizes(), " for ", B, " rows; expected [", B, ", vocab]");
    at::Tensor previous;
    if (penalty) {
      std::vector<const std::vector<int64_t>*> p;
      std::vector<std::vector<int64_t>*> g;
      for (int64_t r : rows) {
        p.push_back(&prompts[r].penalty_ids);
        g.push_back(&out[r].ids);
      }
      previous = padded_ids(p, g, logits.device());
    }
    at::Tensor scores = process_logits(logits, previous, cfg);
    std::vector<int64_t> next(B);
    if (cfg.do_sample) {
      at::Tensor probs = scores.softmax(-1).to(at::kCPU);
      for (int64_t b = 0; b < B; ++b)
        next[b] = at::multinomial(probs[b], 1, /*replacement=*/false, gens[rows[b]]).item<int64_t>();
    } else {
      at::Tensor best = scores.argmax(-1).to(at::kCPU).contiguous();
      std::copy(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + B, next.begin());
    }
    if (step == 0) {
      prefill_s = seconds_since(t_start);
      t_decode = Clock::now();
    }

    // Stopping criteria, per sequence.
    std::vector<int64_t> keep;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t s = rows[b];
      out[s].ids.push_back(next[b]);
      bool done = true;
      if (eos.count(next[b])) {
        out[s].finish_reason = "eos";
      } else if (check_stops && contains_stop_string(options.decode(out[s].ids), cfg.stop_strings)) {
        out[s].finish_reason = "stop_string";
      } else if (step + 1 == cfg.max_new_tokens) {
        out[s].finish_reason = "length";
      } else {
        done = false;
      }
      if (done) {
        out[s].prefill_s = prefill_s;
        out[s].decode_s = seconds_since(t_decode);
      } else {
        keep.push_back(b);
      }
    }
    if (options.on_step) options.on_step(step, static_cast<int64_t>(keep.size()));
    if (keep.empty()) break;

    // Finished rows leave the batch.
    std::vector<int64_t> next_live;
    if (static_cast<int64_t>(keep.size()) < B) {
      if (cache.defined()) cache.select_rows(keep);
      backend.select_rows(keep);
      at::Tensor index = at::tensor(keep, at::kLong).to(dev);
      mask_dev = mask_dev.index_select(0, index);
      std::vector<int64_t> live;
      padded = false;
      for (int64_t b : keep) {
        live.push_back(rows[b]);
        padded = padded || pad[rows[b]] > 0;
      }
      rows = live;
    }
    for (int64_t b : keep) next_live.push_back(next[b]);

    // Feed the new tokens: each row continues at its own next position.
    const auto live = static_cast<int64_t>(rows.size());
    at::Tensor ids = at::tensor(next_live, at::kLong).to(dev).unsqueeze(1);
    std::vector<int64_t> pos(live);
    for (int64_t b = 0; b < live; ++b) pos[b] = next_position[rows[b]]++;
    at::Tensor pos_t = at::tensor(pos, at::kLong).view({1, live, 1}).expand({streams, live, 1});
    mask_dev = at::cat({mask_dev, at::ones({live, 1}, mask_dev.options())}, 1);
    DecoderInputs step_in;
    step_in.inputs_embeds = backend.embed_tokens(ids);
    step_in.position_ids = (streams == 1 ? pos_t.select(0, 0) : pos_t).contiguous().to(dev);
    if (padded) step_in.attention_mask = mask_dev;
    logits = backend.forward_last(step_in, cache).to(at::kFloat);
  }
  return out;
}

}  // namespace mvb::nn
