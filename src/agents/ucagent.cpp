// UCAgent: the reference's wrappers/ucagent.py (UCAgentWrapper) over a Caller.
//
// The flow and every prompt are the reference's. Where its calls do not depend on each other they are
// asked together (the two level-1 experts, one critic per answer, the rebuttals), then read back in
// the reference's order, so the trace, the answer and every error are what the sequential code
// gives. Two departures, both documented in docs/agents.md:
// - retries: the reference's `while retry_count < MAX_RETRY` with MAX_RETRY = 1 never retries; we
//   retry a malformed step UcAgentOptions::retries times (default 1; 0 = the reference's loop).
// - a retry is a new draw (its own seed), so a response cache cannot hand back the same bad answer.
#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "medvlmbench/agents/agents.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/metrics/pytext.h"
#include "pytext_re.h"
#include "ucagent_templates.h"

namespace mvb::agents {
namespace {

using metrics::py_isspace;
using metrics::py_strip;

// Fills "{name}" placeholders in one pass (values are never rescanned).
std::string render(const char* tpl, const std::map<std::string, std::string>& values) {
  std::string out;
  const std::string t = tpl;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '{') {
      const size_t close = t.find('}', i);
      if (close != std::string::npos) {
        auto it = values.find(t.substr(i + 1, close - i - 1));
        if (it != values.end()) {
          out += it->second;
          i = close + 1;
          continue;
        }
      }
    }
    out += t[i++];
  }
  return out;
}

// Position just past `\s*` from i.
size_t skip_ws(const std::u32string& s, size_t i) {
  while (i < s.size() && py_isspace(s[i])) ++i;
  return i;
}

// Matches `kw1\s*kw2\s*:` (ASCII, case-insensitive) at i; returns the position after ':' or npos.
size_t match_key(const std::u32string& s, size_t i, std::string_view kw1, std::string_view kw2) {
  if (!pyre::match_ci(s, i, kw1)) return std::u32string::npos;
  size_t j = i + kw1.size();
  if (!kw2.empty()) {
    j = skip_ws(s, j);
    if (!pyre::match_ci(s, j, kw2)) return std::u32string::npos;
    j += kw2.size();
  }
  j = skip_ws(s, j);
  if (j < s.size() && s[j] == ':') return j + 1;
  return std::u32string::npos;
}

// re.search(r"#?\s*KEY\s*:\s*(.+)", text, re.I).group(1): the first KEY: whose value, after the
// whitespace (newlines included) that follows the colon, is a non-empty rest of a line.
std::optional<std::u32string> search_field(const std::u32string& s, std::string_view kw1, std::string_view kw2) {
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t after = match_key(s, i, kw1, kw2);
    if (after == std::u32string::npos) continue;
    size_t v = skip_ws(s, after);
    // `\s*` gives back whitespace when nothing but whitespace follows (the text is stripped, so only
    // when the key ends the text): then (.+) takes the last non-newline whitespace character.
    if (v == s.size()) {
      while (v > after && s[v - 1] == '\n') --v;
      if (v == after) continue;
      --v;
    }
    size_t e = v;
    while (e < s.size() && s[e] != '\n') ++e;
    if (e > v) return s.substr(v, e - v);
  }
  return std::nullopt;
}

// re.search(r"#?\s*Reasoning\s*:\s*(.*?)\s*(?=#?\s*Answer\s*:|$)", text, re.I | re.S).group(1).
std::optional<std::u32string> search_reasoning(const std::u32string& s) {
  auto answer_ahead = [&](size_t e) {
    size_t k = skip_ws(s, e);
    if (k == s.size()) return true;  // `$`
    if (s[k] == '#') k = skip_ws(s, k + 1);
    return match_key(s, k, "answer", "") != std::u32string::npos;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t after = match_key(s, i, "reasoning", "");
    if (after == std::u32string::npos) continue;
    const size_t v = skip_ws(s, after);
    for (size_t e = v; e <= s.size(); ++e)
      if (answer_ahead(e)) return s.substr(v, e - v);
  }
  return std::nullopt;
}

bool contains(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

}  // namespace

ParsedOption extract_option(const std::string& response) {
  ParsedOption r;
  if (response.empty()) {
    r.validation_error = "Empty response";
    return r;
  }
  const std::u32string text = pyre::u32(py_strip(response));
  std::optional<std::string> question_type, reasoning, answer;
  if (auto m = search_field(text, "question", "type")) question_type = metrics::py_lower(py_strip(pyre::utf8(*m)));
  if (auto m = search_reasoning(text)) reasoning = py_strip(pyre::utf8(*m));
  if (auto m = search_field(text, "answer", "")) answer = py_strip(pyre::utf8(*m));

  // STEP 2: auto-correct the question type.
  if (question_type && !question_type->empty()) {
    const std::string qt = *question_type;
    if (contains(qt, "yes")) {
      question_type = "yes/no";
      r.corrected = true;
    } else if (contains(qt, "multi") || contains(qt, "choice")) {
      question_type = "multi-choice";
      r.corrected = true;
    } else if (contains(qt, "open")) {
      question_type = "open";
    } else {
      question_type.reset();
    }
  }
  // STEP 3: detect it from the answer when missing.
  if ((!question_type || question_type->empty()) && answer && !answer->empty()) {
    const std::u32string a = pyre::u32(*answer);
    if (pyre::search_yes_no(a))
      question_type = "yes/no";
    else if (pyre::search_single_capital(a))
      question_type = "multi-choice";
    else
      question_type = "open";
    r.corrected = true;
  }
  // STEP 4: auto-correct the answer.
  if (answer && !answer->empty() && question_type && !question_type->empty()) {
    const std::string original = *answer;
    if (*question_type == "yes/no") {
      auto m = pyre::search_yes_no(pyre::u32(*answer));
      if (!m) {
        r.validation_error = "Cannot auto-correct yes/no answer";
        return r;
      }
      answer = to_lower(pyre::utf8(*m));
    } else if (*question_type == "multi-choice") {
      auto m = pyre::search_single_capital(pyre::upper_for_letters(pyre::u32(*answer)));
      if (!m) {
        r.validation_error = "Cannot auto-correct multi-choice answer";
        return r;
      }
      answer = std::string(1, static_cast<char>(*m));
    } else if (*question_type == "open") {
      answer = py_strip(*answer);
    }
    if (*answer != original) r.corrected = true;
  }
  // STEP 5
  if (!reasoning || reasoning->empty()) {
    reasoning = pyre::utf8(text);
    r.corrected = true;
  }
  r.question_type = question_type;
  r.reasoning = reasoning;
  r.answer = answer;
  if (question_type && !question_type->empty() && answer && !answer->empty())
    r.valid_format = true;
  else
    r.validation_error = "Missing required fields";
  return r;
}

Inquiries extract_inquiries(const std::string& response) {
  Inquiries out;
  if (response.empty()) {
    out.validation_error = "Empty response";
    return out;
  }
  // re.findall(r"@\s*(.+?)\s*:\s*(.+?)(?=\s*@|\Z)", text, re.I | re.S) on the stripped text: from
  // each "@", the header runs to the first ":" after at least one character, the question to just
  // before the next "@" (its leading whitespace excluded) or the end.
  const std::u32string s = pyre::u32(py_strip(response));
  std::vector<std::pair<std::u32string, std::u32string>> matches;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '@') {
      ++i;
      continue;
    }
    // `\s*` before the header is greedy but gives back whitespace when no match needs it all.
    bool found = false;
    for (size_t h0 = skip_ws(s, i + 1); h0 >= i + 1 && !found; --h0) {
      // (.+?) lazy: the shortest header (>= 1 char) followed by \s*: and a question.
      for (size_t colon = h0 + 1; colon < s.size() && !found; ++colon) {
        if (s[colon] != ':') continue;
        // Header = s[h0, colon) minus the whitespace `\s*` takes before ':', keeping >= 1 char.
        size_t h1 = colon;
        while (h1 > h0 + 1 && py_isspace(s[h1 - 1])) --h1;
        // (.+?) needs one character; `\s*` after ':' gives back whitespace when nothing else is left.
        const size_t q0 = skip_ws(s, colon + 1);
        size_t qstart = q0;
        if (qstart == s.size()) {
          if (q0 == colon + 1) continue;  // nothing after the colon
          qstart = q0 - 1;
        }
        // Lazy question: ends at the first e > qstart where `\s*@` or the end (\Z) follows.
        size_t e = qstart + 1;
        while (e < s.size()) {
          const size_t k = skip_ws(s, e);
          if (k < s.size() && s[k] == '@') break;
          ++e;
        }
        matches.emplace_back(s.substr(h0, h1 - h0), s.substr(qstart, e - qstart));
        i = e;
        found = true;
      }
      if (h0 == i + 1) break;
    }
    if (!found) ++i;
  }
  if (matches.size() < 2) {
    out.validation_error = "Less than two valid inquiries found";
    return out;
  }
  for (const auto& [header, question] : matches) {
    Inquiry q;
    const std::string h = pyre::utf8(header);
    // re.search(r"Expert\s*(\d+)", header, re.I)
    const std::u32string hu = header;
    for (size_t k = 0; k < hu.size(); ++k) {
      if (!pyre::match_ci(hu, k, "expert")) continue;
      size_t d = skip_ws(hu, k + 6);
      size_t d1 = d;
      while (d1 < hu.size() && hu[d1] >= '0' && hu[d1] <= '9') ++d1;
      if (d1 == d) continue;
      const std::string digits = pyre::utf8(hu.substr(d, d1 - d));
      try {
        q.expert_id = std::stoll(digits);
      } catch (const std::exception&) {
        q.expert_id = INT64_MAX;  // beyond any list: the reference's IndexError
      }
      break;
    }
    q.header = py_strip(h);
    q.question = py_strip(pyre::utf8(question));
    out.inquiries.push_back(std::move(q));
  }
  return out;
}

namespace {

constexpr double kExpertTemperature = 0.7;
constexpr double kVerifierTemperature = 0.5;
constexpr double kCriticTemperature = 0.5;
constexpr double kLeaderTemperature = 0.1;

// Raised where the reference raises inside infer_vision_language's try block.
struct AgentFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Cancelled {};

std::string key(const std::string& role, int attempt) { return role + "#" + std::to_string(attempt); }

class UcAgentRun {
 public:
  UcAgentRun(Caller& caller, const std::string& qs, const UcAgentOptions& options)
      : caller_(caller), qs_(qs), attempts_(std::max(0, options.retries) + 1) {}

  AgentOutcome run() {
    try {
      out_.answer = diagnose();
    } catch (const Cancelled&) {
      out_.cancelled = true;
    } catch (const AgentFailure& e) {
      if (!out_.trace.contains("error")) out_.trace["error"] = {{"system_message", e.what()}};
      fallback(e.what());
    }
    // Calls made ahead of the reference's order but never read.
    for (const auto& k : made_)
      if (!read_.count(k)) out_.unused_calls.insert(k);
    return out_;
  }

 private:
  // One stage: the calls go out together.
  std::vector<CallResult> ask(const std::vector<AgentCall>& calls) {
    std::vector<CallResult> r = caller_.call(calls);
    for (const auto& c : calls) made_.insert(key(c.role, c.attempt));
    for (const auto& x : r)
      if (x.cancelled) throw Cancelled{};
    return r;
  }

  // Reads one call's result as the reference's _query_backbone returns it (stripped); a model error
  // is the backbone's exception.
  std::string read(const std::string& role, int attempt, const CallResult& r) {
    read_.insert(key(role, attempt));
    if (!r.error.empty()) throw AgentFailure(r.error);
    return py_strip(r.text);
  }

  [[noreturn]] void format_error(const std::string& prompt, const std::string& response, const std::string& error) {
    out_.trace["error"] = {{"question", qs_}, {"prompt", prompt}, {"response", response}, {"error", error}};
    out_.fallback_reason = error;
    throw AgentFailure("Agent formatting error");
  }

  // Steps with a format check and retries, asked together; results read in the given order. Returns
  // each step's last response and its parse. `validate` returns the validation error, if any.
  template <class Parse>
  std::vector<std::pair<std::string, Parse>> checked_steps(
      const std::vector<std::string>& roles, const std::string& prompt, double temperature,
      const std::function<Parse(const std::string&)>& parse,
      const std::function<std::optional<std::string>(const Parse&)>& err) {
    const size_t n = roles.size();
    std::vector<std::vector<CallResult>> results(n);
    std::vector<bool> finished(n, false);  // valid, or a model error, or out of attempts
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      std::vector<AgentCall> calls;
      std::vector<size_t> who;
      for (size_t i = 0; i < n; ++i) {
        if (finished[i]) continue;
        // The reference never reaches step i once an earlier step has failed for good.
        bool earlier_failed = false;
        for (size_t j = 0; j < i; ++j)
          if (finished[j] && (!results[j].back().error.empty() || err(parse(py_strip(results[j].back().text)))))
            earlier_failed = true;
        if (earlier_failed) continue;
        calls.push_back({roles[i], attempt, prompt, temperature});
        who.push_back(i);
      }
      if (calls.empty()) break;
      const auto r = ask(calls);
      for (size_t k = 0; k < who.size(); ++k) {
        const size_t i = who[k];
        results[i].push_back(r[k]);
        finished[i] = !r[k].error.empty() || !err(parse(py_strip(r[k].text))) || attempt == attempts_;
      }
    }
    // Replay in the reference's order.
    std::vector<std::pair<std::string, Parse>> out;
    for (size_t i = 0; i < n; ++i) {
      std::string response;
      std::optional<Parse> parsed;
      for (size_t a = 0; a < results[i].size(); ++a) {
        response = read(roles[i], static_cast<int>(a) + 1, results[i][a]);
        out_.trace[roles[i]] = response;
        parsed = parse(response);
        if (!err(*parsed)) break;
      }
      if (!parsed) throw AgentFailure("step " + roles[i] + " was not run");
      if (auto e = err(*parsed)) format_error(prompt, response, *e);
      out.emplace_back(response, *parsed);
    }
    return out;
  }

  std::vector<std::pair<std::string, ParsedOption>> option_steps(const std::vector<std::string>& roles,
                                                                 const std::string& prompt, double temperature) {
    return checked_steps<ParsedOption>(
        roles, prompt, temperature, [](const std::string& s) { return extract_option(s); },
        [](const ParsedOption& p) { return p.validation_error; });
  }

  std::string diagnose() {
    // Level 1: two independent experts, answers grouped by the parsed answer (first-seen order).
    out_.level = 1;
    const std::string level1_prompt = render(uc::kLevel1, {{"question", qs_}});
    const auto experts = option_steps({"level1_expert1", "level1_expert2"}, level1_prompt, kExpertTemperature);
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    std::string level1_report = "(Level-1 Initial Assessment Reports)\n";
    for (size_t i = 0; i < experts.size(); ++i) {
      const std::string& option = *experts[i].second.answer;
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == option; });
      if (it == groups.end())
        groups.push_back({option, {experts[i].first}});
      else
        it->second.push_back(experts[i].first);
      level1_report += (i ? "\n" : "") + std::string("<Agent") + std::to_string(i + 1) + " " + experts[i].first + ">";
    }
    std::string latest_report = level1_report;
    out_.agreement = groups.size() == 1;

    // Level 2 on agreement: a senior verifier; its agreement ends the case.
    if (groups.size() == 1) {
      out_.level = 2;
      const std::string prompt = render(uc::kLevel2, {{"question", qs_}, {"level1_report", level1_report}});
      const auto v = option_steps({"level2"}, prompt, kVerifierTemperature).at(0);
      latest_report += "\n(Level-2 Extra Expert Check)\n<" + v.first + ">";
      out_.verified = *v.second.answer == groups[0].first;
      if (*out_.verified) return *v.second.answer;
    }
    return level3(latest_report, groups);
  }

  std::string level3(const std::string& latest_report,
                     const std::vector<std::pair<std::string, std::vector<std::string>>>& groups) {
    out_.level = 3;
    // One critic per distinct answer, asked together, read in order.
    std::vector<AgentCall> calls;
    std::vector<std::string> critic_prompts;
    for (const auto& g : groups) {
      critic_prompts.push_back(
          render(uc::kCritic, {{"option", g.first}, {"question", qs_}, {"latest_report", latest_report}}));
      calls.push_back({"level3_critic_" + g.first, 1, critic_prompts.back(), kCriticTemperature});
    }
    const auto critic_results = ask(calls);
    std::map<std::string, std::string> debate_history;
    std::string critic_text = "(LEVEL-3 Expert Panel Critics)\n";
    for (size_t i = 0; i < groups.size(); ++i) {
      const std::string role = "level3_critic_" + groups[i].first;
      const std::string critic = read(role, 1, critic_results[i]);
      out_.trace[role] = critic;
      debate_history[groups[i].first] =
          render(uc::kDebateHistory, {{"prompt", critic_prompts[i]}, {"critic_response", critic}});
      // The reference enumerates the critics dict, whose items are the answers: the leader is shown
      // "Critic Expert 1: <answer>", not the critic's report. Kept, as the published numbers used it.
      critic_text += (i ? "\n" : "") + std::string("Critic Expert ") + std::to_string(i + 1) + ": " + groups[i].first;
    }

    // The leader's inquiries (at least two "@ ..." blocks).
    const std::string leader_prompt =
        render(uc::kLeader, {{"question", qs_}, {"latest_report", latest_report}, {"critic_text", critic_text}});
    const auto leader = checked_steps<Inquiries>(
                            {"level3_leader"}, leader_prompt, kLeaderTemperature,
                            [](const std::string& s) { return extract_inquiries(s); },
                            [](const Inquiries& q) { return q.validation_error; })
                            .at(0);
    // list(level1_dict.keys())[int(expert_id - 1)], with Python's indexing (0 -> the last answer).
    std::vector<std::pair<std::string, std::string>> consultations;
    const int64_t n = static_cast<int64_t>(groups.size());
    for (const auto& inq : leader.second.inquiries) {
      if (!inq.expert_id) throw AgentFailure("unsupported operand type(s) for -: 'NoneType' and 'int'");
      int64_t idx = *inq.expert_id - 1;
      if (idx < 0) idx += n;
      if (idx < 0 || idx >= n) throw AgentFailure("list index out of range");
      consultations.emplace_back(groups[static_cast<size_t>(idx)].first, inq.question);
    }

    // Rebuttals, asked together, read in order; a critic asked twice answers twice.
    calls.clear();
    std::map<std::string, int> asked;
    for (const auto& [answer, inquiry] : consultations) {
      const std::string query = debate_history[answer] +
                                "\nPlease answer the question from the leader toward your support report in 1-3 "
                                "sentences, do not change your stance:" +
                                inquiry + ".";
      calls.push_back({"level3_rebuttal_" + answer, ++asked[answer], query, kLeaderTemperature});
    }
    const auto rebuttal_results = calls.empty() ? std::vector<CallResult>{} : ask(calls);
    std::string rebuttals = "(Expert Panel Response)\n";
    for (size_t i = 0; i < calls.size(); ++i) {
      const std::string rebuttal = read(calls[i].role, calls[i].attempt, rebuttal_results[i]);
      out_.trace[calls[i].role] = rebuttal;
      rebuttals += (i ? "\n" : "") + std::string("(Critic for ") + consultations[i].first + " - response)\n" + rebuttal;
    }

    // The leader's verdict: its parsed answer is the result.
    const std::string final_prompt = render(uc::kLeaderFinal, {{"rebuttals", rebuttals}});
    return *option_steps({"level3_leader_final"}, final_prompt, kLeaderTemperature).at(0).second.answer;
  }

  // Any failure: the plain question, zero-shot, at the model's default temperature.
  void fallback(const std::string& reason) {
    out_.fallback = true;
    if (out_.fallback_reason.empty()) out_.fallback_reason = reason;
    std::vector<CallResult> r;
    try {
      r = ask({{"zero_shot", 1, qs_, std::nullopt}});
    } catch (const Cancelled&) {
      out_.cancelled = true;
      return;
    }
    read_.insert(key("zero_shot", 1));
    if (!r[0].error.empty()) {
      out_.error = "zero-shot fallback failed: " + r[0].error;
      return;
    }
    out_.answer = py_strip(r[0].text);
  }

  Caller& caller_;
  const std::string qs_;
  const int attempts_;
  AgentOutcome out_;
  std::set<std::string> made_, read_;
};

}  // namespace

AgentOutcome run_ucagent(Caller& caller, const std::string& qs, const UcAgentOptions& options) {
  return UcAgentRun(caller, qs, options).run();
}

}  // namespace mvb::agents
