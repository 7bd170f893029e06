#include "medvlmbench/tasks/judge.h"

#include <memory>
#include <regex>
#include <sstream>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/progress.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/metrics/choice.h"
#include "medvlmbench/models/model.h"

namespace mvb {
namespace {

// OpenAI reasoning models accept only the default temperature.
bool rejects_temperature(const std::string& name, const std::string& id) {
  static const std::regex reasoning("^(o\\d.*|gpt-5.*)$");
  return (name == "o3" && id.empty()) || std::regex_match(id, reasoning);
}

struct JudgeModel {
  std::unique_ptr<Model> owner;
  GenerativeModel* gen = nullptr;
  std::string label;  // "NAME:model_id", recorded in each judgement
};

JudgeModel build_judge(const JudgeConfig& cfg) {
  MVB_USAGE_CHECK(!cfg.model.empty(),
                  "no judge model given; pass --judge NAME[:MODEL_ID], e.g. --judge o3, "
                  "--judge openai:gpt-4.1 or --judge openai-compatible --judge_api_base URL");
  std::string name = cfg.model, id;
  if (const size_t colon = name.find(':'); colon != std::string::npos) {
    id = name.substr(colon + 1);  // everything after the first ':' (Ollama tags contain ':' too)
    name = name.substr(0, colon);
  }
  name = model_registry().canonical(name);
  const ModelEntry& entry = model_registry().get(name);
  MVB_USAGE_CHECK(entry.family == "generative", "judge model '", name, "' is a ", entry.family,
                  " model; the judge needs a generative one (o3, openai, gemini, openai-compatible ...)");
  MVB_USAGE_CHECK(
      !entry.needs_checkpoint, "judge model '", name,
      "' needs a checkpoint; serve it with vLLM/SGLang and use --judge openai-compatible --judge_api_base URL");
  ModelSpec spec;
  spec.name = name;
  spec.model_path = "original_pretrained";
  spec.cache_dir = cfg.cache_dir;
  spec.options = cfg.options.is_object() ? cfg.options : nlohmann::json::object();
  if (!id.empty()) spec.options["api_model"] = id;
  const std::string model_id = spec.options.value("api_model", std::string());
  spec.options["api_reference_suffix"] = false;  // the rubric asks for its own format
  if (!spec.options.contains("api_temperature") && !rejects_temperature(name, model_id))
    spec.options["api_temperature"] = 0.0;  // as deterministic as the provider allows
  JudgeModel jm;
  jm.owner = entry.factory(spec);
  jm.gen = dynamic_cast<GenerativeModel*>(jm.owner.get());
  MVB_CHECK(jm.gen != nullptr, "judge model '", name, "' did not build a generative model");
  const nlohmann::json d = jm.owner->describe();
  jm.label = name + ":" + d.value("model_id", model_id.empty() ? name : model_id);
  return jm;
}

std::string str_field(const nlohmann::json& row, const char* key) {
  return row.contains(key) && row[key].is_string() ? row[key].get<std::string>() : std::string();
}

std::vector<std::string> choice_letters(const nlohmann::json& row) {
  std::vector<std::string> letters;
  if (row.contains("choices") && row["choices"].is_array())
    for (const auto& c : row["choices"])
      if (c.is_object() && c.contains("letter")) letters.push_back(c["letter"].get<std::string>());
  if (letters.empty()) letters = {"A", "B", "C", "D", "E"};  // MedXpertQA keeps its options in the question
  return letters;
}

std::optional<std::string> parse_letter(const std::string& reply, const std::vector<std::string>& letters) {
  static const std::regex letter_re("\\b([A-Za-z])\\b");
  for (std::sregex_iterator it(reply.begin(), reply.end(), letter_re), end; it != end; ++it) {
    const std::string l(1, static_cast<char>(std::toupper((*it)[1].str()[0])));
    if (std::find(letters.begin(), letters.end(), l) != letters.end()) return l;
  }
  return std::nullopt;
}

void write_rows(const std::string& path, const std::vector<nlohmann::json>& rows) {
  std::string out;
  for (const auto& r : rows) out += r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  io::write_file_atomic(path, out);
}

}  // namespace

JudgeConfig judge_config_from(const RunConfig& cfg) {
  JudgeConfig j;
  j.model = cfg.judge;
  j.options = cfg.model_options();
  // The judge's own endpoint and id; the evaluated model's must not leak into it.
  j.options.erase("api_base");
  j.options.erase("api_model");
  j.options.erase("api_protocol");
  j.options.erase("api_max_tokens");
  if (!cfg.judge_api_base.empty()) j.options["api_base"] = cfg.judge_api_base;
  if (!cfg.judge_api_model.empty()) j.options["api_model"] = cfg.judge_api_model;
  j.cache_dir = j.options.value("api_cache_dir", std::string());
  return j;
}

std::string judge_prompt(const std::string& question, const std::string& reference, const std::string& prediction) {
  std::ostringstream os;
  os << "You are grading an answer to a medical visual question. You cannot see the image: judge the candidate "
        "answer only against the reference answer, which is correct.\n\n"
     << "Question: " << question << "\n"
     << "Reference answer: " << reference << "\n"
     << "Candidate answer: " << prediction << "\n\n"
     << "Score the candidate from 0 to 100 by how well it agrees with the reference in medical meaning:\n"
        "- 100: same meaning (synonyms, abbreviations, other wording or extra non-contradicting detail are fine)\n"
        "- 70-99: correct, but less specific than the reference or with minor imprecision\n"
        "- 30-69: partly correct (e.g. right organ but wrong finding, or only part of a list)\n"
        "- 1-29: mostly wrong but related to the reference\n"
        "- 0: wrong, contradicts the reference, or no answer\n\n"
        "Reply in exactly this format:\n"
        "Rationale: <one or two sentences>\n"
        "Score: <integer from 0 to 100>";
  return os.str();
}

std::string mc_extract_prompt(const std::string& question, const nlohmann::json& choices,
                              const std::string& prediction) {
  std::ostringstream os;
  os << "A model answered a multiple-choice question. Which option letter does its answer choose?\n\n"
     << "Question: " << question << "\n";
  std::vector<std::string> letters;
  if (choices.is_array() && !choices.empty()) {
    os << "Options:\n";
    for (const auto& c : choices) {
      os << "(" << c.value("letter", "") << ") " << c.value("text", "") << "\n";
      letters.push_back(c.value("letter", ""));
    }
  }
  if (letters.empty()) letters = {"A", "B", "C", "D", "E"};
  os << "Model's answer: " << prediction << "\n\n"
     << "Reply with only the option letter (" << join(letters, ", ")
     << "), or NONE if the answer does not choose an option.";
  return os.str();
}

ParsedJudgement parse_judgement(const std::string& reply) {
  static const std::regex score_re("score\\s*[:=]?\\s*\\**\\s*(\\d{1,3})", std::regex::icase);
  ParsedJudgement p;
  std::smatch last;
  for (std::sregex_iterator it(reply.begin(), reply.end(), score_re), end; it != end; ++it) last = *it;
  if (last.empty()) return p;
  p.ok = true;
  p.score = std::min(100, std::stoi(last[1].str()));
  static const std::regex rationale_re("rationale\\s*:\\s*([\\s\\S]*?)\\s*(?:\\n[^\\n]*score|$)", std::regex::icase);
  std::smatch m;
  p.rationale = std::regex_search(reply, m, rationale_re) ? trim(m[1].str()) : trim(reply);
  return p;
}

nlohmann::json JudgeSummary::to_json() const {
  return {{"candidates", candidates}, {"judged", judged},         {"skipped", skipped},
          {"unparsed", unparsed},     {"mean_score", mean_score}, {"model", model}};
}

JudgeSummary judge_predictions(const std::string& path, const JudgeConfig& cfg) {
  MVB_USAGE_CHECK(cfg.mode == "open" || cfg.mode == "mc", "judge mode must be open or mc, got '", cfg.mode, "'");
  MVB_USAGE_CHECK(cfg.scope == "open" || cfg.scope == "all", "judge scope must be open or all, got '", cfg.scope, "'");
  MVB_CHECK(io::exists(path), path, " does not exist; give a run folder written by `medvlmbench eval --task vqa`");
  std::vector<nlohmann::json> rows = io::read_jsonl(path).rows;
  const bool open_mode = cfg.mode == "open";
  const char* field = open_mode ? "judge" : "judge_mc";
  const char* version = open_mode ? kJudgeRubricVersion : kMcExtractVersion;

  JudgeSummary summary;
  std::vector<size_t> todo;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r.value("status", "") == "failed" || !r.contains("prediction")) continue;
    const std::string qt = str_field(r, "question_type");
    if (open_mode && !(qt == "open" || cfg.scope == "all")) continue;
    if (!open_mode) {
      if (qt != "multi-choice") continue;
      if (!cfg.mc_all &&
          metrics::extract_choice_letter(to_lower(str_field(r, "prediction")), choice_letters(r)).has_value())
        continue;  // the reference's regex already reads it
    }
    ++summary.candidates;
    if (!cfg.force && r.contains(field) && r[field].is_object() && r[field].value("error", "").empty() &&
        (open_mode ? r[field].value("rubric_version", "") : r[field].value("prompt_version", "")) == version) {
      ++summary.skipped;
      continue;
    }
    todo.push_back(i);
  }
  if (todo.empty()) {
    spdlog::info("judge: nothing to do in {} ({} rows apply, {} already judged)", path, summary.candidates,
                 summary.skipped);
    return summary;
  }

  JudgeModel jm = build_judge(cfg);
  spdlog::info("judge {}: {} rows to judge ({} mode, {} {})", jm.label, todo.size(), cfg.mode,
               open_mode ? "rubric" : "prompt", version);
  const size_t batch = static_cast<size_t>(std::max(1, jm.gen->preferred_batch_size()));
  Progress progress("judge", todo.size());
  int64_t failures = 0;
  std::string first_failure;
  for (size_t start = 0; start < todo.size() && !cancel_requested(); start += batch) {
    const size_t end = std::min(todo.size(), start + batch);
    std::vector<GenerationRequest> reqs;
    for (size_t k = start; k < end; ++k) {
      const auto& r = rows[todo[k]];
      GenerationRequest req;
      req.prompt = open_mode
                       ? judge_prompt(str_field(r, "question"), str_field(r, "answer"), str_field(r, "prediction"))
                       : mc_extract_prompt(str_field(r, "question"), r.value("choices", nlohmann::json::array()),
                                           str_field(r, "prediction"));
      reqs.push_back(std::move(req));
    }
    std::vector<GenerationResult> results;
    try {
      results = jm.gen->generate(reqs);
    } catch (...) {
      write_rows(path, rows);  // keep the judgements made so far
      throw;
    }
    for (size_t k = start; k < end; ++k) {
      const GenerationResult& res = results[k - start];
      nlohmann::json& row = rows[todo[k]];
      if (res.extra.value("cancelled", false)) continue;
      if (!res.error.empty()) {
        if (failures++ == 0) first_failure = res.error;
        continue;
      }
      nlohmann::json j;
      if (open_mode) {
        const ParsedJudgement p = parse_judgement(res.text);
        j = {{"score", p.ok ? nlohmann::json(p.score) : nlohmann::json(nullptr)},
             {"rationale", p.ok ? p.rationale : res.text},
             {"model", jm.label},
             {"rubric_version", version}};
        if (!p.ok) j["error"] = "no 'Score: N' line in the judge's reply";
      } else {
        const auto letter = parse_letter(res.text, choice_letters(row));
        const std::string answer = str_field(row, "answer");
        j = {{"letter", letter ? nlohmann::json(*letter) : nlohmann::json(nullptr)},
             {"correct", letter.has_value() && to_lower(*letter) == to_lower(trim(answer))},
             {"raw", res.text},
             {"model", jm.label},
             {"prompt_version", version}};
        if (!letter) j["error"] = "the judge named no option letter";
      }
      if (j.contains("error")) ++summary.unparsed;
      row[field] = j;
      ++summary.judged;
    }
    progress.advance(end - start);
  }
  progress.finish();
  write_rows(path, rows);

  double sum = 0;
  int64_t n = 0;
  for (const auto& r : rows)
    if (r.contains("judge") && r["judge"].is_object() && r["judge"].contains("score") &&
        r["judge"]["score"].is_number()) {
      sum += r["judge"]["score"].get<double>();
      ++n;
    }
  summary.mean_score = n ? sum / n : 0.0;
  summary.model = jm.owner->describe();
  if (summary.unparsed > 0)
    spdlog::warn("judge: {} of {} replies had no readable {}; they are saved with \"error\" and not scored",
                 summary.unparsed, summary.judged, open_mode ? "score" : "letter");
  MVB_CHECK(failures == 0, "the judge ", jm.label, " failed on ", failures, " of ", todo.size(),
            " rows (first error: ", first_failure,
            "); nothing falls back to string matching. Judgements made so far "
            "are saved and cached: fix the judge endpoint and rerun `medvlmbench judge`");
  return summary;
}

}  // namespace mvb
