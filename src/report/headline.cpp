#include "medvlmbench/report/headline.h"

namespace mvb::report {

const std::vector<HeadlineMeter>& headline_meters(const std::string& task) {
  // The paper reports diagnosis by AUROC (and accuracy), VQA by closed-question accuracy and
  // open-question recall (multi-choice datasets by accuracy), and captions by n-gram overlap and
  // BERTScore.
  static const std::map<std::string, std::vector<HeadlineMeter>> kMeters = {
      {"diagnosis", {{"auc", "AUROC"}, {"accuracy", "ACC"}}},
      {"vqa", {{"accuracy_closed", "Closed ACC"}, {"recall_open", "Open Recall"}, {"accuracy_mc", "MC ACC"}}},
      {"caption",
       {{"bleu4", "BLEU-4"}, {"rougeL_fmeasure", "ROUGE-L"}, {"meteor", "METEOR"}, {"bertscore", "BERTScore"}}},
  };
  static const std::vector<HeadlineMeter> kNone;
  const auto it = kMeters.find(task);
  return it == kMeters.end() ? kNone : it->second;
}

std::string meter_label(const std::string& task, const std::string& key) {
  for (const auto& m : headline_meters(task))
    if (m.key == key) return m.label;
  return key;
}

const std::vector<std::string>& rank_meters(const std::string& task) {
  static const std::map<std::string, std::vector<std::string>> kRank = {
      {"diagnosis", {"true_class_score", "accuracy"}},
      {"vqa", {"accuracy_closed", "accuracy_mc", "recall_open"}},
      {"caption", {"rougeL_fmeasure", "bleu1"}},
  };
  static const std::vector<std::string> kNone;
  const auto it = kRank.find(task);
  return it == kRank.end() ? kNone : it->second;
}

const std::vector<std::string>& correctness_meters(const std::string& task) {
  static const std::map<std::string, std::vector<std::string>> kCorrect = {
      {"diagnosis", {"accuracy"}},
      {"vqa", {"accuracy_closed", "accuracy_mc", "accuracy_open"}},
      {"caption", {"exact_match_strict"}},
  };
  static const std::vector<std::string> kNone;
  const auto it = kCorrect.find(task);
  return it == kCorrect.end() ? kNone : it->second;
}

std::string first_present(const std::vector<std::string>& names, const std::map<std::string, double>& values) {
  for (const auto& n : names)
    if (values.count(n)) return n;
  return "";
}

}  // namespace mvb::report
