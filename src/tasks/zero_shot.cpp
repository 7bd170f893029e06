#include "medvlmbench/tasks/zero_shot.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {

std::vector<std::vector<std::string>> class_prompts(const std::vector<std::string>& class_texts,
                                                    const std::string& templates) {
  MVB_USAGE_CHECK(!class_texts.empty(), "the dataset has no class texts for zero-shot prompts");
  std::vector<std::string> tmpl;
  size_t start = 0;
  while (true) {
    const size_t bar = templates.find('|', start);
    tmpl.push_back(templates.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  for (const auto& t : tmpl)
    MVB_USAGE_CHECK(t.find("{}") != std::string::npos, "--prompt_template '", t,
                    "' has no {} for the class text (e.g. \"a photo of {}\")");
  std::vector<std::vector<std::string>> out;
  for (const auto& text : class_texts) {
    std::vector<std::string> per;
    for (const auto& t : tmpl) {
      std::string p = t;
      p.replace(p.find("{}"), 2, text);  // str.format replaces the first {} only when there is one field
      per.push_back(p);
    }
    out.push_back(std::move(per));
  }
  return out;
}

at::Tensor class_text_embeddings(ContrastiveModel& model, const std::vector<std::vector<std::string>>& prompts) {
  std::vector<std::string> flat;
  for (const auto& per : prompts) flat.insert(flat.end(), per.begin(), per.end());
  at::Tensor t = model.encode_text(flat).to(at::kCPU, at::kFloat);
  t = t / t.norm(2, -1, true);
  const int64_t k = static_cast<int64_t>(prompts.front().size());
  at::Tensor mean = t.view({static_cast<int64_t>(prompts.size()), k, t.size(1)}).mean(1);
  return mean / mean.norm(2, -1, true);
}

at::Tensor zero_shot_logits(const ContrastiveModel& model, const at::Tensor& image_features,
                            const at::Tensor& class_embeddings) {
  at::Tensor img = image_features.to(at::kFloat);
  img = img / img.norm(2, -1, true);
  at::Tensor cos = at::matmul(img, class_embeddings.to(img.device()).t());
  // Several embeddings per image ([N, Q, D], BLIP-2's Q-Former queries): the best-matching one scores
  // each class (Blip2ForImageTextRetrieval's ITC: logits_per_image.max(dim=1)).
  if (cos.dim() == 3) cos = std::get<0>(cos.max(1));
  return cos * model.logit_scale() + model.logit_bias();
}

at::Tensor logits_to_probs(const at::Tensor& logits, bool sigmoid) {
  return sigmoid ? logits.sigmoid() : logits.softmax(-1);
}

nlohmann::json diagnosis_row(const Sample& s, const at::Tensor& probs, bool multi_label, double threshold) {
  at::Tensor p = probs.to(at::kCPU, at::kDouble).contiguous();
  std::vector<double> scores(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  nlohmann::json row = {{"id", s.id}, {"image_path", s.image_path()}, {"label", s.labels}, {"scores", scores}};
  if (multi_label) {
    std::vector<int> pred;
    for (double v : scores) pred.push_back(v >= threshold ? 1 : 0);
    row["pred"] = pred;
  } else if (scores.size() == 1) {
    row["pred"] = scores[0] >= 0.5 ? 1 : 0;
  } else {
    row["pred"] = static_cast<int>(std::max_element(scores.begin(), scores.end()) - scores.begin());
  }
  return row;
}

}  // namespace mvb
