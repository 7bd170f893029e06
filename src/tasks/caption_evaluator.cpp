// Caption (report generation) evaluator: the reference's meters (eval/caption.py of MedVLMBench)
// on normalize_word-ed texts. METEOR is the proper word-level one with WordNet synonyms, stored as
// `meteor` and, for scripts written against the reference, under its misspelled key `methor`.
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/meteor.h"
#include "medvlmbench/metrics/meters.h"
#include "medvlmbench/metrics/pytext.h"
#include "medvlmbench/metrics/text_overlap.h"
#include "medvlmbench/metrics/vqa_text.h"
#include "medvlmbench/metrics/wordnet.h"
#include "medvlmbench/tasks/bertscore.h"
#include "medvlmbench/tasks/rows.h"
#include "medvlmbench/tasks/task.h"

namespace mvb {
namespace {

std::string text_field(const nlohmann::json& row, const char* key) {
  if (!row.contains(key) || row[key].is_null()) return "";  // the reference scores a None output as ""
  const auto& v = row[key];
  if (v.is_string()) return v.get<std::string>();
  MVB_CHECK(v.is_number() || v.is_boolean(), "caption row ", row.value("id", "?"), ": \"", key,
            "\" must be a string, got ", v.type_name());
  return v.dump();  // numeric answers (VQA-RAD stores some as numbers) are scored as their text
}

bool headline(const std::string& name) {
  static const std::set<std::string> s = {"bleu1", "bleu4", "rougeL_fmeasure", "meteor", "exact_match", "bertscore"};
  return s.count(name) > 0;
}

// One caption's meter values (the reference's per-row computation) and the normalised texts
// BERTScore compares.
struct RowScores {
  std::vector<std::pair<std::string, double>> values;
  std::string out_n, cap_n;
};

RowScores score_row(const nlohmann::json& row, const metrics::WordNet* wordnet) {
  RowScores r;
  const std::string output_l = metrics::py_lower(text_field(row, "prediction"));
  const std::string caption_l = metrics::py_lower(text_field(row, "answer"));
  r.out_n = metrics::normalize_word(output_l);
  r.cap_n = metrics::normalize_word(caption_l);
  const std::string& out_n = r.out_n;
  const std::string& cap_n = r.cap_n;
  const auto out_t = metrics::py_split(out_n), cap_t = metrics::py_split(cap_n);
  const auto b = metrics::bleu_1_to_4(out_t, cap_t);
  auto& v = r.values;
  for (int n = 1; n <= 4; ++n) v.emplace_back("bleu" + std::to_string(n), b[static_cast<size_t>(n - 1)]);
  const auto rp = metrics::rouge_tokens(out_n), rc = metrics::rouge_tokens(cap_n);
  const metrics::RougeScore rouge[3] = {metrics::rouge_n(rp, rc, 1), metrics::rouge_n(rp, rc, 2),
                                        metrics::rouge_l(rp, rc)};
  const char* names[3] = {"rouge1", "rouge2", "rougeL"};
  for (int k = 0; k < 3; ++k) {
    v.emplace_back(std::string(names[k]) + "_fmeasure", rouge[k].fmeasure);
    v.emplace_back(std::string(names[k]) + "_precision", rouge[k].precision);
    v.emplace_back(std::string(names[k]) + "_recall", rouge[k].recall);
  }
  if (wordnet) {
    const double m = metrics::meteor({cap_t}, out_t, wordnet);
    v.emplace_back("meteor", m);
    v.emplace_back("methor", m);
  }
  v.emplace_back("exact_match", metrics::exact_match_ratio_normalized(out_n, cap_n));
  v.emplace_back("exact_match_strict", out_n == cap_n ? 1.0 : 0.0);
  return r;
}

class CaptionEvaluator : public TaskEvaluator {
 public:
  ScoreResult score(const std::vector<nlohmann::json>& rows, const ScoreOptions& opts) const override {
    ScoreResult r;
    metrics::MeterSet meters;
    const metrics::WordNet* wordnet = nullptr;
    std::string wordnet_error;
    try {
      wordnet = &metrics::WordNet::shared();
    } catch (const std::exception& e) {
      wordnet_error = e.what();
    }
    int64_t missing = 0;
    std::vector<std::string> bert_cands, bert_refs;  // normalised texts, one pair per scored row
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed") {
        ++r.num_errors;
        continue;
      }
      if (!row.contains("answer")) {
        ++missing;
        ++r.num_errors;
        continue;
      }
      const RowScores rs = score_row(row, wordnet);
      for (const auto& [name, value] : rs.values) meters.add("all", name, value);
      bert_cands.push_back(rs.out_n);
      bert_refs.push_back(rs.cap_n);
      ++r.num_scored;
    }
    // The reference's calculate_bertscore(output_normed, caption_normed), batched over all rows.
    std::string bert_note = bertscore::absent_note("bertscore");
    if (!opts.bertscore_model.empty() && !bert_cands.empty()) {
      bertscore::Options bo;
      bo.model_dir = opts.bertscore_model;
      bo.device = opts.device;
      auto scorer = bertscore::Scorer::load(bo);
      for (const auto& s : scorer->score(bert_cands, bert_refs)) meters.add("all", "bertscore", s.f1);
      bert_note = bertscore::used_note("bertscore", *scorer);
    }
    meters.write(r.metrics, r.ci95, opts.bootstrap, static_cast<uint64_t>(opts.seed), headline);
    if (r.num_scored > 0) {
      r.notes.push_back(bert_note);
      if (wordnet)
        r.notes.push_back("methor: the reference's misspelled key for meteor, kept as an alias with the same value");
      else
        r.notes.push_back("meteor: absent; WordNet could not be loaded: " + wordnet_error);
    } else {
      r.notes.push_back("no scored rows: every meter is absent");
    }
    if (missing)
      r.notes.push_back(std::to_string(missing) + " rows lack the reference caption (\"answer\"); counted as errors");

    const auto& id = opts.identity;
    r.results_csv = {{"model", id.value("model", "")},
                     {"model_name", id.value("model_name", "")},
                     {"task", "caption"},
                     {"dataset", id.value("dataset", "")},
                     {"model_type", id.value("model_type", "")},
                     {"modality", id.value("modality", "")},
                     {"size", r.num_scored}};
    static const char* kOrder[] = {"bleu1",         "bleu2",           "bleu3",
                                   "bleu4",         "rouge1_fmeasure", "rouge1_precision",
                                   "rouge1_recall", "rouge2_fmeasure", "rouge2_precision",
                                   "rouge2_recall", "rougeL_fmeasure", "rougeL_precision",
                                   "rougeL_recall", "methor",          "exact_match",
                                   "bertscore"};
    for (const char* name : kOrder)
      if (r.metrics.contains(name)) r.results_csv.emplace_back(name, r.metrics[name]);
    return r;
  }

  std::vector<std::map<std::string, double>> sample_values(const std::vector<nlohmann::json>& rows) const override {
    std::vector<std::map<std::string, double>> out(rows.size());
    const metrics::WordNet* wordnet = nullptr;
    try {
      wordnet = &metrics::WordNet::shared();
    } catch (const std::exception&) {
      wordnet = nullptr;  // meteor is then absent, as in score()
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].value("status", "") == "failed" || !rows[i].contains("answer")) continue;
      try {
        for (const auto& [name, value] : score_row(rows[i], wordnet).values) out[i][name] = value;
      } catch (const Error&) {
        out[i].clear();
      }
    }
    return out;
  }

  // [{image_path, caption, prediciton (sic), trace}] as the reference writes it.
  nlohmann::json reference_predictions(const std::vector<nlohmann::json>& rows) const override {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed") {
        out.push_back(reference_failed_row(row, {"answer"}));
        continue;
      }
      out.push_back({{"image_path", row.value("image_path", "")},
                     {"caption", row.value("answer", nlohmann::json(""))},
                     {"prediciton", row.value("prediction", nlohmann::json(""))},
                     {"trace", row.contains("trace") ? row["trace"] : nlohmann::json(nullptr)}});
    }
    return out;
  }
};

}  // namespace

MVB_REGISTER(task_registry(), "caption",
             TaskEntry{"Report generation scored by BLEU, ROUGE, METEOR and exact match",
                       [] { return std::make_unique<CaptionEvaluator>(); }});

}  // namespace mvb
