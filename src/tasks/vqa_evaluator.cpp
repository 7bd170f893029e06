// VQA evaluator: the reference's meters (eval/vqa.py of MedVLMBench, dev-repo version with
// multi-choice), quirks kept, plus standard variants under their own names. docs/metrics.md lists
// every meter and where ours differs from the reference.
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <thread>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/choice.h"
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

using metrics::MeterSet;

std::string text_field(const nlohmann::json& row, const char* key) {
  if (!row.contains(key) || row[key].is_null()) return "";  // the reference scores a None output as ""
  const auto& v = row[key];
  if (v.is_string()) return v.get<std::string>();
  MVB_CHECK(v.is_number() || v.is_boolean(), "vqa row ", row.value("id", "?"), ": \"", key, "\" must be a string, got ",
            v.type_name());
  return v.dump();  // numeric answers (VQA-RAD stores some as numbers) are scored as their text
}

// "open", "closed" (ubc-tea) / "yes/no" (dev repo) or "multi-choice"; anything else is an error row.
std::string question_kind(const nlohmann::json& row) {
  const std::string t = row.value("question_type", "");
  if (t == "open") return "open";
  if (t == "closed" || t == "yes/no") return "closed";
  if (t == "multi-choice" || t == "mc") return "mc";
  return "";
}

std::vector<std::string> choice_letters(const nlohmann::json& row) {
  std::vector<std::string> letters;
  if (!row.contains("choices")) return letters;
  for (const auto& c : row["choices"]) {
    if (c.is_object() && c.contains("letter"))
      letters.push_back(c["letter"].get<std::string>());
    else if (c.is_string())
      letters.push_back(c.get<std::string>());
  }
  return letters;
}

// The judge score 0-100, as a number or the string the DeepSeek review files hold.
std::optional<double> judge_score(const nlohmann::json& row) {
  if (!row.contains("judge") || !row["judge"].is_object() || !row["judge"].contains("score")) return std::nullopt;
  const auto& s = row["judge"]["score"];
  if (s.is_number()) return s.get<double>();
  if (s.is_string()) {
    try {
      return std::stod(s.get<std::string>());
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Meters broken down per modality (kept to the headline ones so metrics.json stays readable).
const std::set<std::string>& breakdown_meters() {
  static const std::set<std::string> s = {"accuracy_open",       "recall_open", "accuracy_closed",       "accuracy_mc",
                                          "exact_match_overall", "f1_overall",  "accuracy_closed_strict"};
  return s;
}

bool headline(const std::string& name) {
  static const std::set<std::string> s = {
      "accuracy_open",  "recall_open",       "f1_score_open",       "bleu1_open",
      "rougeL_open",    "meteor_open",       "accuracy_closed",     "accuracy_closed_strict",
      "accuracy_mc",    "f1_overall",        "exact_match_overall", "exact_match_strict_overall",
      "gpt_score_open", "gpt_score_overall", "bertscore_open"};
  return s.count(name) > 0;
}

// One scored answer: the meters it updates, in the order the reference logs them.
struct SampleScores {
  std::string kind, modality;
  std::vector<std::pair<const char*, double>> values;  // meter name (static storage) -> value
  std::optional<double> judge;
  bool no_letter = false;
  std::string bert_cand, bert_ref;  // open questions: the normalised texts BERTScore compares
};

// The reference's per-answer computation (eval/vqa.py), on one row.
SampleScores score_one(const nlohmann::json& row, const std::string& kind, const metrics::WordNet* wordnet) {
  SampleScores s;
  s.kind = kind;
  s.modality = row.contains("modality") && row["modality"].is_string() ? row["modality"].get<std::string>() : "";
  const std::string output_l = metrics::py_lower(text_field(row, "prediction"));
  const std::string answer_l = metrics::py_lower(text_field(row, "answer"));
  // Each answer is normalised once; every score below starts from these.
  const std::string out_n = metrics::normalize_word(output_l), ans_n = metrics::normalize_word(answer_l);
  const auto overlap = metrics::word_overlap_normalized(out_n, ans_n);
  const auto& prf = overlap.prf;
  const double exact_match = overlap.exact_match;
  const double exact_strict = out_n == ans_n ? 1.0 : 0.0;
  auto& v = s.values;
  if (kind == "open") {
    const auto out_t = metrics::py_split(out_n), ans_t = metrics::py_split(ans_n);
    const auto b = metrics::bleu_1_to_4(out_t, ans_t);
    v.emplace_back("bleu1_open", b[0]);
    v.emplace_back("bleu2_open", b[1]);
    v.emplace_back("bleu3_open", b[2]);
    v.emplace_back("bleu4_open", b[3]);
    const auto rp = metrics::rouge_tokens(out_n), ra = metrics::rouge_tokens(ans_n);
    v.emplace_back("rouge1_open", metrics::rouge_n(rp, ra, 1).fmeasure);
    v.emplace_back("rouge2_open", metrics::rouge_n(rp, ra, 2).fmeasure);
    v.emplace_back("rougeL_open", metrics::rouge_l(rp, ra).fmeasure);
    v.emplace_back("exact_match_open", exact_match);
    v.emplace_back("exact_match_strict_open", exact_strict);
    v.emplace_back("recall_open", prf.recall);
    v.emplace_back("precision_open", prf.precision);
    v.emplace_back("f1_score_open", prf.f1);
    v.emplace_back("accuracy_open", metrics::open_accuracy(prf.recall));
    s.bert_cand = out_n;
    s.bert_ref = ans_n;
    if (wordnet) {
      v.emplace_back("meteor_open", metrics::meteor_single(ans_t, out_t, wordnet));
      v.emplace_back("meteor_open_whole_string", metrics::meteor_single({ans_n}, {out_n}, wordnet));
    }
  } else if (kind == "closed") {
    v.emplace_back("exact_match_closed", exact_match);
    v.emplace_back("exact_match_strict_closed", exact_strict);
    v.emplace_back("recall_closed", prf.recall);
    v.emplace_back("precision_closed", prf.precision);
    v.emplace_back("f1_score_closed", prf.f1);
    v.emplace_back("accuracy_closed", metrics::closed_accuracy_substring(output_l, answer_l));
    v.emplace_back("accuracy_closed_strict", metrics::closed_accuracy_strict(output_l, answer_l));
  } else {
    const auto letter = metrics::extract_choice_letter(output_l, choice_letters(row));
    s.no_letter = !letter;
    v.emplace_back("exact_match_mc", exact_match);
    v.emplace_back("exact_match_strict_mc", exact_strict);
    v.emplace_back("recall_mc", prf.recall);
    v.emplace_back("precision_mc", prf.precision);
    v.emplace_back("f1_score_mc", prf.f1);
    v.emplace_back("accuracy_mc", letter && metrics::py_lower(std::string(1, *letter)) == answer_l ? 1.0 : 0.0);
  }
  v.emplace_back("exact_match_overall", exact_match);
  v.emplace_back("exact_match_strict_overall", exact_strict);
  v.emplace_back("recall_overall", prf.recall);
  v.emplace_back("precision_overall", prf.precision);
  v.emplace_back("f1_overall", prf.f1);
  s.judge = judge_score(row);
  return s;
}

// bertscore_open (the reference's calculate_bertscore on the normalised texts of open questions),
// batched over all of them; returns the note for metrics.json.
std::string add_bertscore(std::vector<SampleScores>& scored, const ScoreOptions& opts) {
  if (opts.bertscore_model.empty()) return bertscore::absent_note("bertscore_open");
  std::vector<size_t> open;
  std::vector<std::string> cands, refs;
  for (size_t i = 0; i < scored.size(); ++i)
    if (scored[i].kind == "open") {
      open.push_back(i);
      cands.push_back(scored[i].bert_cand);
      refs.push_back(scored[i].bert_ref);
    }
  if (open.empty()) return "";
  bertscore::Options bo;
  bo.model_dir = opts.bertscore_model;
  bo.device = opts.device;
  auto scorer = bertscore::Scorer::load(bo);
  const auto f = scorer->score(cands, refs);
  for (size_t k = 0; k < open.size(); ++k) scored[open[k]].values.emplace_back("bertscore_open", f[k].f1);
  return bertscore::used_note("bertscore_open", *scorer);
}

class VqaEvaluator : public TaskEvaluator {
 public:
  ScoreResult score(const std::vector<nlohmann::json>& rows, const ScoreOptions& opts) const override {
    ScoreResult r;
    const metrics::WordNet* wordnet = nullptr;
    std::string wordnet_error;
    int64_t unknown_type = 0, judged = 0, mc_no_letter = 0;
    std::vector<std::pair<const nlohmann::json*, std::string>> todo;
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed") {
        ++r.num_errors;
        continue;
      }
      const std::string kind = question_kind(row);
      if (kind.empty() || !row.contains("answer")) {
        ++unknown_type;
        ++r.num_errors;
        continue;
      }
      if (kind == "open" && !wordnet && wordnet_error.empty()) {
        try {
          wordnet = &metrics::WordNet::shared();
        } catch (const std::exception& e) {
          wordnet_error = e.what();
        }
      }
      todo.emplace_back(&row, kind);
    }
    // Answers are independent: score them on all cores, then reduce in row order (deterministic).
    std::vector<SampleScores> scored(todo.size());
    const size_t threads =
        std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), todo.size() / 256));
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    for (size_t t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        try {
          for (size_t i = t; i < todo.size(); i += threads) {
            try {
              scored[i] = score_one(*todo[i].first, todo[i].second, wordnet);
            } catch (const Error& e) {
              scored[i].kind.clear();  // a malformed row is an error row, not a failed run
              scored[i].modality = e.what();
            }
          }
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    for (auto& th : pool) th.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    const std::string bert_note = add_bertscore(scored, opts);

    MeterSet meters, by_modality;
    static const std::map<std::string, std::string> kGroup = {{"open", "open"}, {"closed", "closed"}, {"mc", "mc"}};
    int64_t malformed = 0;
    std::string malformed_example;
    for (const auto& s : scored) {
      if (s.kind.empty()) {
        ++malformed;
        ++r.num_errors;
        if (malformed_example.empty()) malformed_example = s.modality;
        continue;
      }
      const std::string& group = kGroup.at(s.kind);
      for (const auto& [name, value] : s.values) {
        const bool overall = std::strstr(name, "_overall") != nullptr;
        meters.add(overall ? "all" : group, name, value);
        if (!s.modality.empty() && breakdown_meters().count(name))
          by_modality.add((overall ? std::string("all") : group) + "@" + s.modality,
                          std::string(name) + "@" + s.modality, value);
      }
      if (s.judge) {
        meters.add("judge_all", "gpt_score_overall", *s.judge);
        if (s.kind == "open") {
          meters.add("judge_open", "gpt_score_open", *s.judge);
          ++judged;
        }
      }
      mc_no_letter += s.no_letter;
      ++r.num_scored;
    }

    meters.write(r.metrics, r.ci95, opts.bootstrap, static_cast<uint64_t>(opts.seed), headline);
    by_modality.write(r.metrics, r.ci95, 0, 0, [](const std::string&) { return false; });
    if (meters.contains("bleu1_open")) {
      r.notes.push_back(bert_note);
      if (wordnet)
        r.notes.push_back(
            "meteor_open: METEOR over words with WordNet synonyms (nltk meteor_score); the reference scores each "
            "whole string as one token, reported as meteor_open_whole_string");
      else
        r.notes.push_back("meteor_open: absent; WordNet could not be loaded: " + wordnet_error);
    }
    if (unknown_type)
      r.notes.push_back(
          std::to_string(unknown_type) +
          " rows lack an answer or a question_type of open, closed, yes/no or multi-choice; counted as errors");
    if (malformed)
      r.notes.push_back(std::to_string(malformed) + " malformed rows counted as errors, e.g.: " + malformed_example);
    if (mc_no_letter)
      r.notes.push_back("accuracy_mc: no option letter found in " + std::to_string(mc_no_letter) +
                        " multi-choice answers (scored 0, as the reference)");
    if (meters.contains("gpt_score_open") && judged < static_cast<int64_t>(meters.count("bleu1_open")))
      r.notes.push_back("gpt_score_open: mean over the " + std::to_string(judged) + " of " +
                        std::to_string(meters.count("bleu1_open")) + " open questions that carry a judge score");
    if (r.num_scored == 0) r.notes.push_back("no scored rows: every meter is absent");

    const auto& id = opts.identity;
    r.results_csv = {{"model", id.value("model", "")},
                     {"model_name", id.value("model_name", "")},
                     {"task", "vqa"},
                     {"dataset", id.value("dataset", "")},
                     {"model_type", id.value("model_type", "")},
                     {"modality", id.value("modality", "")},
                     {"size", r.num_scored}};
    // The reference's meters in its logging order; ours (strict variants, breakdowns) stay in metrics.json.
    static const char* kOrder[] = {"bleu1_open",          "bleu2_open",      "bleu3_open",         "bleu4_open",
                                   "rouge1_open",         "rouge2_open",     "rougeL_open",        "exact_match_open",
                                   "recall_open",         "precision_open",  "f1_score_open",      "accuracy_open",
                                   "bertscore_open",      "meteor_open",     "exact_match_closed", "recall_closed",
                                   "precision_closed",    "f1_score_closed", "accuracy_closed",    "exact_match_mc",
                                   "recall_mc",           "precision_mc",    "f1_score_mc",        "accuracy_mc",
                                   "exact_match_overall", "recall_overall",  "precision_overall",  "f1_overall"};
    for (const char* name : kOrder)
      if (r.metrics.contains(name)) r.results_csv.emplace_back(name, r.metrics[name]);
    return r;
  }

  // The per-answer values score() averages (score_one), plus gpt_score_open/overall from the judge.
  std::vector<std::map<std::string, double>> sample_values(const std::vector<nlohmann::json>& rows) const override {
    std::vector<std::map<std::string, double>> out(rows.size());
    const metrics::WordNet* wordnet = nullptr;
    bool wordnet_tried = false;
    for (size_t i = 0; i < rows.size(); ++i) {
      const nlohmann::json& row = rows[i];
      if (row.value("status", "") == "failed") continue;
      const std::string kind = question_kind(row);
      if (kind.empty() || !row.contains("answer")) continue;
      if (kind == "open" && !wordnet_tried) {
        wordnet_tried = true;
        try {
          wordnet = &metrics::WordNet::shared();
        } catch (const std::exception&) {
          wordnet = nullptr;  // meteor_open is then absent, as in score()
        }
      }
      try {
        const SampleScores s = score_one(row, kind, wordnet);
        for (const auto& [name, value] : s.values) out[i][name] = value;
        if (s.judge) {
          out[i]["gpt_score_overall"] = *s.judge;
          if (kind == "open") out[i]["gpt_score_open"] = *s.judge;
        }
      } catch (const Error&) {
        out[i].clear();  // a malformed row: an error row in score() too
      }
    }
    return out;
  }

  // [{image_path, question_type, qs, answer, prediction, trace}] as the dev repo writes it.
  nlohmann::json reference_predictions(const std::vector<nlohmann::json>& rows) const override {
    nlohmann::json out = nlohmann::json::array();
    // The dev reference's question types: "yes/no" for every closed question (SLAKE's closed answers
    // that are not yes/no included), "open", "multi-choice".
    auto reference_type = [](const nlohmann::json& row) {
      const std::string t = row.value("question_type", "");
      return t == "closed" ? std::string("yes/no") : t;
    };
    // The image path the reference writes: "NA" for images embedded in parquet (the loader records
    // it in metadata), the ";"-joined list for multi-image questions (the row's image_path). Failed
    // rows too: the reference logs the item's image_path, which is "NA" for every parquet item.
    auto reference_image_path = [](const nlohmann::json& row) {
      const nlohmann::json meta = row.value("metadata", nlohmann::json::object());
      return meta.is_object() && meta.contains("reference_image_path") && meta["reference_image_path"] == "NA"
                 ? nlohmann::json("NA")
                 : row.value("image_path", nlohmann::json(""));
    };
    for (const auto& row : rows) {
      if (row.value("status", "") == "failed") {
        nlohmann::json e = reference_failed_row(row, {"question", "answer", "question_type"});
        if (e.contains("question_type")) e["question_type"] = reference_type(row);
        e["image_path"] = reference_image_path(row);
        out.push_back(e);
        continue;
      }
      const nlohmann::json image_path = reference_image_path(row);
      // qs: the formatted prompt as the reference's dataset builds it, without what an API model
      // appends inside the model call (recorded in the row's "prompt"; "qs" holds the prompt before).
      const nlohmann::json qs = row.contains("qs")       ? row["qs"]
                                : row.contains("prompt") ? row["prompt"]
                                                         : row.value("question", nlohmann::json(""));
      nlohmann::json rec = {{"image_path", image_path},
                            {"question_type", reference_type(row)},
                            {"qs", qs},
                            {"answer", row.value("answer", nlohmann::json(""))},
                            {"prediction", row.value("prediction", nlohmann::json(""))}};
      rec["trace"] = row.contains("trace") ? row["trace"] : nlohmann::json(nullptr);
      out.push_back(rec);
    }
    return out;
  }
};

}  // namespace

MVB_REGISTER(task_registry(), "vqa", TaskEntry{"Visual question answering scored by the reference's VQA meters", [] {
                                                 return std::make_unique<VqaEvaluator>();
                                               }});

}  // namespace mvb
