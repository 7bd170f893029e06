// bert_score's greedy_cos_idf() (bert_score/utils.py, 0.3.x) for a batch of one pair, op for op in
// float32, so its quirks come out the same: the normalisation is a plain division (no epsilon), [CLS]
// and [SEP] take part in the matching but weigh 0, and empty texts give NaN that is mapped to 0.
#include <ATen/ATen.h>

#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/tasks/bertscore.h"

namespace mvb::bertscore {

Score greedy_match(const at::Tensor& cand, const at::Tensor& cand_idf, const at::Tensor& ref,
                   const at::Tensor& ref_idf) {
  MVB_CHECK(cand.dim() == 2 && ref.dim() == 2 && cand.size(1) == ref.size(1), "BERTScore: embeddings must be [L, D]");
  MVB_CHECK(
      cand_idf.dim() == 1 && cand_idf.size(0) == cand.size(0) && ref_idf.dim() == 1 && ref_idf.size(0) == ref.size(0),
      "BERTScore: one idf weight per token expected");
  const at::Tensor h = cand.to(at::kFloat) / cand.to(at::kFloat).norm(2, -1).unsqueeze(-1);
  const at::Tensor r = ref.to(at::kFloat) / ref.to(at::kFloat).norm(2, -1).unsqueeze(-1);
  const at::Tensor sim = at::matmul(h, r.t());  // [Lc, Lr]
  const at::Tensor word_precision = std::get<0>(sim.max(1));
  const at::Tensor word_recall = std::get<0>(sim.max(0));
  const at::Tensor hyp_idf = cand_idf.to(at::kFloat), ref_w = ref_idf.to(at::kFloat);
  const at::Tensor precision_scale = hyp_idf / hyp_idf.sum();
  const at::Tensor recall_scale = ref_w / ref_w.sum();
  at::Tensor P = (word_precision * precision_scale).sum();
  at::Tensor R = (word_recall * recall_scale).sum();
  at::Tensor F = 2 * P * R / (P + R);
  Score s;
  s.precision = P.item<float>();
  s.recall = R.item<float>();
  s.f1 = F.item<float>();
  // hyp_zero_mask / ref_zero_mask: attention-mask sum == 2, i.e. only [CLS] [SEP].
  if (cand.size(0) == 2 || ref.size(0) == 2) s.precision = s.recall = 0.0;
  if (std::isnan(s.f1)) s.f1 = 0.0;
  return s;
}

}  // namespace mvb::bertscore
