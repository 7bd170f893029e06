// BERTScore as the reference computes it: MedVLMBench eval/metrics.py calculate_bertscore() calls
// bert_score 0.3.x `score([cand], [ref], model_type="emilyalsentzer/Bio_ClinicalBERT", num_layers=12)`
// once per answer, after trimming each text to model_max_length - 2 word pieces. So per pair:
//   1. trim: ids = tokenizer.encode(text, add_special_tokens=False)[:limit - 2];
//      text = tokenizer.decode(ids, skip_special_tokens=True)   ([UNK] words vanish, " ," -> ",", accents go)
//      limit = tokenizer model_max_length if < 10000, else config max_position_embeddings.
//   2. encode: text.strip(); "" -> [CLS] [SEP]; else encode with [CLS] ... [SEP].
//   3. embed: the hidden state after layer num_layers (bert_score drops the later layers), fp32.
//   4. greedy_match(): cosine greedy matching, idf weight 1 for every token except [CLS]/[SEP] (0).
// The meter is the mean F1 over samples. Embedding is batched (unique texts, longest first); matching
// is per pair, as the reference's one-pair calls do, so no cross-sample padding enters a score.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mvb::bertscore {

struct Score {
  double precision = 0, recall = 0, f1 = 0;
};

// bert_score's greedy_cos_idf() for one candidate/reference pair (float32, on the tensors' device).
// cand/ref: [L, D] token embeddings including [CLS] and [SEP] (not normalised); cand_idf/ref_idf:
// [L] weights. Quirks kept: a side of exactly 2 tokens (an empty text) gets P = R = 0, and F is
// computed before that, from the idf normalisation 0/0 = NaN, then NaN -> 0.
Score greedy_match(const at::Tensor& cand, const at::Tensor& cand_idf, const at::Tensor& ref,
                   const at::Tensor& ref_idf);

struct Options {
  std::string model_dir;  // HF BERT folder: config.json, pytorch_model.bin / model.safetensors, vocab.txt ...
  std::string device = "auto";
  int num_layers = 12;         // the reference's value
  int batch_size = 64;         // texts per BERT forward (bert_score's default)
  int pairs_per_chunk = 2048;  // bounds memory: embeddings are kept for one chunk of pairs at a time
};

class Scorer {
 public:
  // Loads the model and tokenizer; throws mvb::Error naming the folder and what is wrong.
  static std::unique_ptr<Scorer> load(const Options& options);
  virtual ~Scorer() = default;

  // One score per (candidate, reference) pair, texts as the reference passes them (normalised).
  virtual std::vector<Score> score(const std::vector<std::string>& cands, const std::vector<std::string>& refs) = 0;
  // Steps 1-2 above: the ids the model sees for `text` (exposed for the tokenizer parity test).
  virtual std::vector<int32_t> token_ids(const std::string& text) const = 0;
  // "BERT 12L (models/Bio_ClinicalBERT) on cpu": for notes.
  virtual std::string describe() const = 0;
  // Texts whose ids were cut to the model's positions after the trim/decode round trip (the
  // reference would fail on them); counted over the scorer's life.
  virtual int64_t overlong_texts() const = 0;
};

// The model folder a run uses: `flag` when given ("none" = off -> ""), else models/Bio_ClinicalBERT
// when that folder exists (relative to the working directory), else "". A given folder that does
// not exist is an mvb::Error.
std::string resolve_model_dir(const std::string& flag);

// The notes evaluators write: no model configured / which model scored (and any texts cut).
std::string absent_note(const std::string& meter);
std::string used_note(const std::string& meter, const Scorer& scorer);

}  // namespace mvb::bertscore
