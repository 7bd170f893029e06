// The one place that says which meters a person reads: the reference's headline meters per task
// (the columns of the paper's tables), which per-sample value ranks a run's best and worst samples,
// and which per-sample value says a sample was answered correctly (`compare`'s changed samples).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mvb::report {

struct HeadlineMeter {
  std::string key;    // the name in metrics.json
  std::string label;  // the column heading
};

// diagnosis: AUROC, accuracy; vqa: closed accuracy, open recall, multi-choice accuracy;
// caption: BLEU-4, ROUGE-L, METEOR, BERTScore. Empty for an unknown task. A column no run of a table
// has is left out of that table.
const std::vector<HeadlineMeter>& headline_meters(const std::string& task);

// The label of a meter for headings: the headline label when it is one, else the key itself.
std::string meter_label(const std::string& task, const std::string& key);

// Per-sample values (TaskEvaluator::sample_values) ranking samples from best to worst: the first of
// these a sample has. Diagnosis: the true class's score; VQA: closed/MC accuracy, else open recall;
// caption: ROUGE-L F.
const std::vector<std::string>& rank_meters(const std::string& task);

// Per-sample values meaning "answered correctly" (1/0): the first of these a sample has. Diagnosis:
// accuracy; VQA: closed, MC, open accuracy; caption: exact match after normalisation.
const std::vector<std::string>& correctness_meters(const std::string& task);

// The first of `names` present in `values`, or "" when none is.
std::string first_present(const std::vector<std::string>& names, const std::map<std::string, double>& values);

}  // namespace mvb::report
