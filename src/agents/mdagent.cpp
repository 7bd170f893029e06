// MDAgent: the reference's wrappers/mdagent.py (MDAgentWrapper) over a Caller. Each role's prompt is
// built exactly as _query_backbone builds it; the evidence blocks are the reference's f-strings; the
// final answer is the last role's output. No temperature is passed (the reference passes none, so
// the backbone's default decoding applies).
#include <array>

#include "medvlmbench/agents/agents.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/pytext.h"
#include "pytext_re.h"

namespace mvb::agents {
namespace {

// str.startswith(word) followed by `\b`.
bool starts_with_word(const std::u32string& s, std::string_view word) {
  return pyre::match_ci(s, 0, word) && pyre::word_boundary(s, word.size());
}

}  // namespace

std::string resolve_mdagent_mode(const std::string& qs, const std::string& requested) {
  if (requested != "adaptive") return requested;
  const std::string question = metrics::py_strip(metrics::py_lower(qs));
  const size_t token_count = metrics::py_split(question).size();
  static const std::array<const char*, 5> kMultichoice = {"answer choices:", "answer with the single letter", "(a)",
                                                          "(b)", "(c)"};
  for (const char* m : kMultichoice)
    if (question.find(m) != std::string::npos) return "basic";

  // The yes/no patterns: a leading "answer the following question about the image with yes or no",
  // "yes or no" as words anywhere, or a leading auxiliary verb as a word.
  const std::u32string q = pyre::u32(question);
  if (question.rfind("answer the following question about the image with yes or no", 0) == 0) return "basic";
  for (size_t i = 0; i < q.size(); ++i)
    if (pyre::word_boundary(q, i) && pyre::match_ci(q, i, "yes or no") && pyre::word_boundary(q, i + 9)) return "basic";
  for (const char* verb : {"is", "are", "does", "do", "can", "could", "was", "were", "has", "have"})
    if (starts_with_word(q, verb)) return "basic";

  static const std::array<const char*, 9> kAdvanced = {"why",       "explain",      "describe",
                                                       "evidence",  "differential", "most likely diagnosis",
                                                       "best next", "how many",     "comparison"};
  if (token_count >= 18) return "advanced";
  for (const char* m : kAdvanced)
    if (question.find(m) != std::string::npos) return "advanced";
  return "intermediate";
}

std::string mdagent_prompt(const std::string& role, const std::string& task, const std::string& qs,
                           const std::string& evidence) {
  std::string prompt = "You are acting as the " + role + " in a medical multi-agent team.";
  prompt += "\n\nUse only the provided image and question.";
  prompt +=
      "\n\nIf the image is uncertain or insufficient, say so briefly and still provide the best supported answer.";
  prompt += "\n\nTask: " + task;
  prompt += "\n\nQuestion: " + qs;
  if (!evidence.empty()) prompt += "\n\nPrior team notes:\n" + evidence;  // `if evidence:`
  return metrics::py_strip(prompt);
}

namespace {

struct RoleSpec {
  const char* role;  // as written into the prompt; the trace name has "_" for " "
  const char* task;
};

std::string trace_name(const std::string& role) {
  std::string s = role;
  for (char& c : s)
    if (c == ' ') c = '_';
  return s;
}

// Runs the roles in order; `evidence(i, outputs)` gives role i's notes from the earlier outputs.
AgentOutcome run_roles(Caller& caller, const std::string& qs, const std::string& mode,
                       const std::vector<RoleSpec>& roles,
                       const std::function<std::string(size_t, const std::vector<std::string>&)>& evidence) {
  AgentOutcome out;
  out.mode = mode;
  std::vector<std::string> outputs;
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i < roles.size(); ++i) {
    const std::string name = trace_name(roles[i].role);
    AgentCall call{name, 1, mdagent_prompt(roles[i].role, roles[i].task, qs, evidence(i, outputs)), std::nullopt};
    const CallResult r = caller.call({call}).at(0);
    if (r.cancelled) {
      out.cancelled = true;
      return out;
    }
    if (!r.error.empty()) {  // the reference lets the backbone's exception fail the sample
      out.error = name + ": " + r.error;
      out.trace = {{"steps", steps}, {"mode", mode}};
      return out;
    }
    outputs.push_back(r.text);
    steps.push_back({{"agent", name}, {"output", r.text}});
  }
  out.answer = outputs.back();
  out.trace = {{"steps", steps}, {"mode", mode}, {"final_answer", out.answer}};
  return out;
}

}  // namespace

AgentOutcome run_mdagent(Caller& caller, const std::string& qs, const std::string& requested_mode) {
  const std::string mode = resolve_mdagent_mode(qs, requested_mode);
  if (mode == "basic") {
    return run_roles(
        caller, qs, mode,
        {{"primary clinician", "Answer the question directly and concisely. Return only the final answer."}},
        [](size_t, const std::vector<std::string>&) { return std::string(); });
  }
  if (mode == "advanced") {
    return run_roles(
        caller, qs, mode,
        {{"triage lead", "Break the problem into 2-4 short subproblems needed to answer the question."},
         {"visual examiner", "Summarize the clinically relevant visual findings that matter for the question."},
         {"differential diagnostician",
          "Propose the best answer and key alternatives, grounded in the image and notes."},
         {"quality reviewer", "Identify weak points in the proposed answer and state whether it should be revised."},
         {"chief moderator", "Return only the final answer. Keep it concise and directly answer the question."}},
        [](size_t i, const std::vector<std::string>& o) -> std::string {
          switch (i) {
            case 0:
              return "";
            case 1:
              return o[0];
            case 2:
              return "[triage plan]\n" + o[0] + "\n\n[visual findings]\n" + o[1];
            case 3:
              return "[triage plan]\n" + o[0] + "\n\n[visual findings]\n" + o[1] +
                     "\n\n[differential diagnostician]\n" + o[2];
            default:
              return "[triage plan]\n" + o[0] + "\n\n[visual findings]\n" + o[1] +
                     "\n\n[differential diagnostician]\n" + o[2] + "\n\n[quality reviewer]\n" + o[3];
          }
        });
  }
  MVB_CHECK(mode == "intermediate", "unknown MDAgent mode '", mode, "'; use basic, intermediate, advanced or adaptive");
  return run_roles(
      caller, qs, mode,
      {{"visual examiner", "List the most relevant visual findings for answering the question. Keep it short."},
       {"medical specialist",
        "Use the image and the prior team notes to propose the best answer with a short rationale."},
       {"skeptical reviewer",
        "Check the proposed answer for mistakes, unsupported claims, or better alternatives. Be concise."},
       {"moderator", "Synthesize the team discussion and return only the final answer in a concise form."}},
      [](size_t i, const std::vector<std::string>& o) -> std::string {
        switch (i) {
          case 0:
            return "";
          case 1:
            return o[0];
          case 2:
            return "[visual examiner]\n" + o[0] + "\n\n[medical specialist]\n" + o[1];
          default:
            return "[visual examiner]\n" + o[0] + "\n\n[medical specialist]\n" + o[1] + "\n\n[skeptical reviewer]\n" +
                   o[2];
        }
      });
}

}  // namespace mvb::agents
