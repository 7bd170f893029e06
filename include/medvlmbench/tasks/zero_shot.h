// Zero-shot diagnosis with a contrastive model, shared by the clip-zs runner and the clip-img-lora
// trainer: class prompts, their (ensembled) text embeddings, logits -> probabilities, and the
// predictions.jsonl row.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/sample.h"
#include "medvlmbench/models/model.h"

namespace mvb {

// Python's template.format(text) for each template in `templates` ('|'-separated) and each class:
// result[class][template]. The reference's single template is "a photo of {}", with the class
// texts exactly as the dataset gives them (leading/trailing spaces kept). UsageError when a template
// has no "{}".
std::vector<std::vector<std::string>> class_prompts(const std::vector<std::string>& class_texts,
                                                    const std::string& templates);

// [C, D] unit-norm class embeddings: each class's prompt embeddings are normalised, averaged and
// normalised again (CLIP's prompt ensembling; a single template reduces to the normalised embedding).
at::Tensor class_text_embeddings(ContrastiveModel& model, const std::vector<std::vector<std::string>>& prompts);

// logits_per_image for unnormalised image features [N, D] against unit-norm class embeddings [C, D]:
// exp(logit_scale) * cos + logit_bias, as the models' forward computes it. Features [N, Q, D] (several
// embeddings per image, BLIP-2's queries) score each class by their largest cosine.
at::Tensor zero_shot_logits(const ContrastiveModel& model, const at::Tensor& image_features,
                            const at::Tensor& class_embeddings);

// Class probabilities from logits: softmax over classes (the reference), or an elementwise sigmoid
// for SigLIP-style models and for multi-label datasets scored by a sigmoid model.
at::Tensor logits_to_probs(const at::Tensor& logits, bool sigmoid);

// {"id", "image_path", "label", "pred", "scores"} (rows.h). Multi-label: pred[i] = scores[i] >= threshold.
nlohmann::json diagnosis_row(const Sample& s, const at::Tensor& probs, bool multi_label, double threshold = 0.5);

}  // namespace mvb
