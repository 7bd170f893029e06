// transformers' logits processors (generation/logits_process.py, 5.23.0), written with the same tensor
// operations in the same order so that the results are bit-identical on the same scores.
#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/generation.h"

namespace mvb::nn {

at::Tensor apply_repetition_penalty(const at::Tensor& scores, const at::Tensor& previous_ids, double penalty) {
  MVB_CHECK(penalty > 0, "repetition_penalty must be > 0 (got ", penalty, ")");
  MVB_CHECK(scores.dim() == 2 && previous_ids.dim() == 2 && previous_ids.size(0) == scores.size(0),
            "apply_repetition_penalty: expected scores [B, V] and previous_ids [B, T]");
  if (previous_ids.size(1) == 0) return scores;
  const int64_t vocab = scores.size(-1);
  // RepetitionPenaltyLogitsProcessor: ids outside the output vocabulary, and (5.x) the left padding it
  // is told about via prompt_ignore_length, are sent to an extra column that is dropped afterwards.
  // Our padding is -1, which goes to the same column.
  at::Tensor ids = previous_ids.to(scores.device(), at::kLong);
  ids = at::where(ids < 0, at::full_like(ids, vocab), ids.clamp_max(vocab));
  at::Tensor padded = at::constant_pad_nd(scores, {0, 1});
  at::Tensor score = at::gather(padded, 1, ids);
  score = at::where(score < 0, score * penalty, score / penalty);
  return padded.scatter(1, ids, score).narrow(-1, 0, vocab);
}

at::Tensor apply_temperature(const at::Tensor& scores, double temperature) {
  MVB_CHECK(temperature > 0, "temperature must be > 0 when sampling (got ", temperature,
            "); for greedy decoding set do_sample false");
  return scores / temperature;
}

at::Tensor apply_top_k(const at::Tensor& scores, int64_t top_k, int64_t min_tokens_to_keep) {
  MVB_CHECK(top_k > 0, "top_k must be > 0 (got ", top_k, ")");
  // TopKLogitsWarper: k = max(top_k, min_tokens_to_keep), capped at the vocabulary; ties with the k-th
  // score are kept (strict `<`).
  const int64_t k = std::min(std::max(top_k, min_tokens_to_keep), scores.size(-1));
  at::Tensor kth = std::get<0>(at::topk(scores, k)).narrow(-1, k - 1, 1);
  return scores.masked_fill(scores < kth, -std::numeric_limits<double>::infinity());
}

at::Tensor apply_top_p(const at::Tensor& scores, double top_p, int64_t min_tokens_to_keep) {
  MVB_CHECK(top_p >= 0 && top_p <= 1, "top_p must be in [0, 1] (got ", top_p, ")");
  MVB_CHECK(min_tokens_to_keep >= 1, "min_tokens_to_keep must be >= 1 (got ", min_tokens_to_keep, ")");
  // TopPLogitsWarper: sort ascending, drop the low tail whose cumulative probability is <= 1 - top_p,
  // always keeping the min_tokens_to_keep largest.
  auto sorted = at::sort(scores, /*dim=*/-1, /*descending=*/false);
  const at::Tensor& sorted_logits = std::get<0>(sorted);
  const at::Tensor& sorted_indices = std::get<1>(sorted);
  at::Tensor cumulative = sorted_logits.softmax(-1).cumsum(-1);
  at::Tensor remove = cumulative <= (1 - top_p);
  const int64_t keep = std::min(min_tokens_to_keep, scores.size(-1));
  remove.narrow(-1, scores.size(-1) - keep, keep).fill_(false);
  at::Tensor to_remove = remove.scatter(1, sorted_indices, remove);
  return scores.masked_fill(to_remove, -std::numeric_limits<double>::infinity());
}

at::Tensor process_logits(const at::Tensor& scores, const at::Tensor& previous_ids, const GenerationConfig& cfg) {
  // _get_logits_processor's order: repetition penalty, then (sampling only) temperature, top-k, top-p,
  // each added only when it changes something (penalty != 1, temperature != 1, top_k != 0,
  // top_p < 1). min_tokens_to_keep is 1 without beam search.
  at::Tensor s = scores;
  if (cfg.repetition_penalty != 1.0 && previous_ids.defined())
    s = apply_repetition_penalty(s, previous_ids, cfg.repetition_penalty);
  if (!cfg.do_sample) return s;
  if (cfg.temperature != 1.0) s = apply_temperature(s, cfg.temperature);
  if (cfg.top_k != 0) s = apply_top_k(s, cfg.top_k);
  if (cfg.top_p < 1.0) s = apply_top_p(s, cfg.top_p);
  return s;
}

}  // namespace mvb::nn
