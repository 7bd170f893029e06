// The one generation engine every local generative model runs through.
//
// A model turns each request into a MultimodalInput (chunks of token ids and of projected image
// embeddings, with their positions) and implements GenerationBackend (embed ids, run the decoder over
// a KV cache). The engine does the rest, once for everyone: left-padded batched prefill, decode over
// the cache, transformers' logits processors (repetition penalty, temperature, top-k, top-p) in
// transformers' order, greedy or seeded sampling, several EOS ids and stop strings, max new tokens,
// and per-sequence finish (finished rows leave the batch).
//
//   nn::GenerationConfig cfg = nn::GenerationConfig::load(model_dir);   // generation_config.json
//   cfg.max_new_tokens = 128;
//   auto out = nn::generate(backend, inputs, cfg, {.seeds = {...}, .decode = ...});
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/kv_cache.h"

namespace mvb::nn {

// generation_config.json, with transformers' GenerationConfig defaults for absent keys.
struct GenerationConfig {
  int64_t max_new_tokens = 20;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  std::vector<int64_t> eos_token_ids;  // eos_token_id: an int or a list
  int64_t pad_token_id = -1;
  int64_t bos_token_id = -1;
  std::vector<std::string> stop_strings;

  static GenerationConfig from_json(const nlohmann::json& j, const std::string& where);
  // <dir>/generation_config.json when present, else the defaults (eos from config.json when it has one).
  static GenerationConfig load(const std::string& model_dir);
  nlohmann::json to_json() const;  // what run.json records
};

// One piece of a prompt: token ids, or image embeddings the model's vision tower produced.
struct InputChunk {
  std::vector<int64_t> token_ids;  // a text chunk (empty for an image chunk)
  at::Tensor embeds;               // an image chunk: [N, hidden], already projected
  // Image chunk positions relative to the chunk's start, [P, N] (M-RoPE: t, h, w grid offsets);
  // undefined = consecutive. Text positions always continue from the previous maximum + 1, which is
  // what transformers' get_rope_index does and equals plain 0..L-1 numbering for 1-D rope.
  at::Tensor relative_positions;
  // The ids transformers' input_ids hold for this image (its placeholder tokens), seen by the
  // repetition penalty; empty when the reference generates from inputs_embeds only (original LLaVA).
  std::vector<int64_t> placeholder_ids;
  int64_t bidirectional_group = 0;  // > 0: the chunk's tokens attend to each other (Gemma3 images)
  // Encoder-decoder models: the states this prompt's decoder cross-attends to ([S, hidden], e.g. BLIP's
  // question encoding) and their 1/0 mask ([S] int64; undefined = all), carried to the backend's
  // begin_batch() (set on any one chunk of an input). The engine itself never reads them.
  at::Tensor cross_states, cross_mask;

  static InputChunk text(std::vector<int64_t> ids);
  static InputChunk image(at::Tensor embeds, std::vector<int64_t> placeholder_ids = {},
                          at::Tensor relative_positions = {});
};
using MultimodalInput = std::vector<InputChunk>;

// What the engine needs from a model.
class GenerationBackend {
 public:
  virtual ~GenerationBackend() = default;
  virtual at::Tensor embed_tokens(const at::Tensor& ids) = 0;  // [B, L] int64 -> [B, L, hidden]
  // Logits (float32) for the last position of every row: [B, vocab].
  virtual at::Tensor forward_last(const DecoderInputs& in, KVCache& cache) = 0;
  virtual KVCache make_cache(int64_t batch, int64_t capacity) = 0;
  virtual int64_t position_streams() const { return 1; }  // 3 for M-RoPE
  // Encoder-decoder backends (BLIP's answer decoder): called by generate() with the batch's inputs in
  // row order before the prefill (to gather their InputChunk::cross_states), and with the rows kept
  // whenever finished sequences leave the batch (as KVCache::select_rows). No-ops by default.
  virtual void begin_batch(const std::vector<MultimodalInput>& /*inputs*/) {}
  virtual void select_rows(const std::vector<int64_t>& /*rows*/) {}
  // Whether generate() may run a prompt prefix common to the whole batch once, through forward_last with a
  // one-row cache, and broadcast its keys and values (KVCache::broadcast_prefix): a decoder-only backend
  // with no per-row state and whose masks depend on positions only through causality (no sliding window:
  // the padding then sits between prefix and rest, and a window counts cache slots). Off by default.
  virtual bool shares_prompt_prefix() const { return false; }
  virtual c10::Device device() const = 0;
  virtual at::ScalarType dtype() const = 0;
};

// transformers' logits processors on fixed scores ([B, V] float32; previous_ids [B, T] int64 with
// -1 for padding, which the penalty ignores). Each returns the processed scores.
at::Tensor apply_repetition_penalty(const at::Tensor& scores, const at::Tensor& previous_ids, double penalty);
at::Tensor apply_temperature(const at::Tensor& scores, double temperature);
at::Tensor apply_top_k(const at::Tensor& scores, int64_t top_k, int64_t min_tokens_to_keep = 1);
at::Tensor apply_top_p(const at::Tensor& scores, double top_p, int64_t min_tokens_to_keep = 1);
// All of them as transformers' generate() would apply them for `cfg` (penalty first; temperature,
// top-k, top-p only when sampling).
at::Tensor process_logits(const at::Tensor& scores, const at::Tensor& previous_ids, const GenerationConfig& cfg);

struct GenerateOptions {
  // One seed per sequence (sampling draws from a generator seeded by it), so a sequence's tokens do
  // not depend on which other sequences share its batch. Empty = seed 0 for all.
  std::vector<uint64_t> seeds;
  // Decodes generated ids to text, for stop strings (unset = stop strings ignored).
  std::function<std::string(const std::vector<int64_t>&)> decode;
  // Called after each decode step with (step, live sequences) for progress; may be unset.
  std::function<void(int64_t, int64_t)> on_step;
  // A leading run of text ids that every input of the batch shares (a system turn, a conversation header)
  // and at least this long is run once at batch 1 when the backend allows it (shares_prompt_prefix);
  // 0 = never. MVB_SHARE_PROMPT_PREFIX=0 in the environment turns it off everywhere.
  int64_t min_shared_prefix = 16;
};

struct GeneratedSequence {
  std::vector<int64_t> ids;   // new tokens only; a final EOS is included, a stop string's tokens too
  std::string finish_reason;  // "eos", "stop_string" or "length"
  int64_t prompt_tokens = 0;  // positions of the prompt (image embeddings included)
  double prefill_s = 0, decode_s = 0;
};

// Generates for every input in one batch (src/nn/generation.cpp). Semantics, and where they differ
// from transformers' generate():
// - Prompts are left-padded (attention_mask 0 and position 1 as in transformers; zero embeddings where
//   transformers embeds the pad id, which the mask hides);
//   attention_mask is passed only while some live row has padding. Decode positions continue from each
//   prompt's largest position + 1, in every stream.
// - The repetition penalty sees each prompt's text ids and image placeholder_ids plus the generated
//   ids, never the padding (transformers 5 ignores left padding too). A model whose reference generates
//   from inputs_embeds only penalises no prompt ids there; here its text ids still count (only matters
//   with repetition_penalty != 1).
// - Sampling draws on the CPU from a generator per sequence (seeds[i]), so the ids are reproducible
//   across batch compositions and devices for the same logits; they do not reproduce torch's global
//   RNG stream. top_k 1 (the Qwen configs) is deterministic and equals transformers exactly.
// - A stop string ends a sequence after the step whose token completes it in the text decoded from the
//   new ids (as StopStringCriteria, which matches a stop string overlapping the last token; a stop
//   string spanning prompt and answer is not seen here); its tokens stay in ids, the caller cuts the text.
// - Finished rows leave the batch (KVCache::select_rows) instead of being fed padding.
// - A prompt prefix the whole batch shares (min_shared_prefix) is computed once and broadcast into every
//   row's cache; each row then reads [prefix | its padding | the rest of its prompt], the padding masked.
//   Its positions and ids are the same as unshared, the results equal to fp32 rounding.
// - prefill_s is the batch's time to the first token; decode_s runs from there until the sequence ended.
std::vector<GeneratedSequence> generate(GenerationBackend& backend, const std::vector<MultimodalInput>& inputs,
                                        const GenerationConfig& cfg, const GenerateOptions& options = {});

// A GenerationBackend over a CausalLM (the usual case: the model's language model is a CausalLM).
class CausalLMBackend : public GenerationBackend {
 public:
  explicit CausalLMBackend(CausalLM lm) : lm_(std::move(lm)) {}
  at::Tensor embed_tokens(const at::Tensor& ids) override;
  at::Tensor forward_last(const DecoderInputs& in, KVCache& cache) override;
  KVCache make_cache(int64_t batch, int64_t capacity) override;
  int64_t position_streams() const override;
  bool shares_prompt_prefix() const override;
  c10::Device device() const override;
  at::ScalarType dtype() const override;
  CausalLM& lm() { return lm_; }

 private:
  CausalLM lm_;
};

}  // namespace mvb::nn
