// Agent wrappers over any generative model (issue 16; the reference's wrappers/mdagent.py and
// wrappers/ucagent.py of Nanboy-Ronan/MedVLMBench, REFERENCE.md section 6).
//
// An agent turns one task prompt (`qs`, the prompt the off-the-shelf run would send) into several
// model calls with role prompts, and returns a final answer plus the reference's `trace`. The agent
// logic is written as straight-line code against a Caller; the batch driver (run_agent_batch) runs
// one agent per sample, each on its own thread, and whenever every sample of the batch is waiting
// for its next calls it sends all of them to GenerativeModel::generate at once. So a batch costs one
// generate() per stage (level-1 experts of every sample together, then every level-2 call, ...)
// rather than one per call, while each sample's calls stay in the reference's order.
//
//   MDAgent: modes basic / intermediate / advanced, or adaptive (picked from the prompt), role
//            prompts joined by "\n\n" with the evidence of earlier roles as "Prior team notes".
//   UCAgent: level 1 two experts (temperature 0.7), level 2 a senior verifier on agreement (0.5),
//            level 3 a critic per distinct answer (0.5), the leader's inquiries, rebuttals and verdict
//            (0.1); any format error falls back to the plain question (zero-shot).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "medvlmbench/models/model.h"

namespace mvb::agents {

// One model call an agent asks for. `role` is the reference's trace name (MDAgent: visual_examiner,
// ...; UCAgent: level1_expert1, level2, level3_critic_<answer>, level3_leader, level3_rebuttal_<answer>,
// level3_leader_final, zero_shot); `attempt` counts from 1 for retried steps.
struct AgentCall {
  std::string role;
  int attempt = 1;
  std::string prompt;
  std::optional<double> temperature;  // unset = the model's default (the reference passes none)
};

struct CallResult {
  std::string text;
  std::string error;  // the model call failed (API retries exhausted, bad image ...)
  bool cancelled = false;
};

// Sends calls to the model. All calls of one call() go out together and are independent.
class Caller {
 public:
  virtual ~Caller() = default;
  virtual std::vector<CallResult> call(const std::vector<AgentCall>& calls) = 0;
};

// What an agent returns for one sample.
struct AgentOutcome {
  std::string answer;
  nlohmann::json trace = nlohmann::json::object();  // the reference's trace shape (predictions.json)
  std::string error;                                // non-empty: the sample failed where the reference raises
  bool cancelled = false;  // a call was cut short by Ctrl-C: the sample gets no row (resume redoes it)
  // For the summary (metrics.json "agent"): MDAgent mode; UCAgent path.
  std::string mode;               // mdagent: basic|intermediate|advanced
  int level = 0;                  // ucagent: deepest level reached (1, 2, 3); 0 for mdagent
  bool fallback = false;          // ucagent fell back to the zero-shot question
  std::string fallback_reason;    // the format / model error that caused it
  std::optional<bool> agreement;  // ucagent: both level-1 experts gave the same parsed answer
  std::optional<bool> verified;   // ucagent: the level-2 verifier confirmed that answer
  // Calls made but unused by the reference's order (level-1 expert 2 after expert 1 failed: we ask
  // both at once). Keys "role#attempt".
  std::set<std::string> unused_calls;
};

// ---- MDAgent -------------------------------------------------------------------------------------

// The mode to run: `requested` unless it is "adaptive", then the reference's rules on qs.lower().strip():
// basic for multiple-choice markers or yes/no questions, advanced for >= 18 tokens or "why",
// "explain", ... markers, else intermediate.
std::string resolve_mdagent_mode(const std::string& qs, const std::string& requested);
// One role's prompt: the reference's five parts (+ "Prior team notes:\n<evidence>" when the evidence
// is non-empty) joined by "\n\n" and stripped.
std::string mdagent_prompt(const std::string& role, const std::string& task, const std::string& qs,
                           const std::string& evidence);
AgentOutcome run_mdagent(Caller& caller, const std::string& qs, const std::string& requested_mode);

// ---- UCAgent -------------------------------------------------------------------------------------

// UCAgentWrapper._extract_option: the #Question Type / #Reasoning / #Answer fields, auto-corrected
// (a yes/no answer becomes "yes"/"no", a multiple-choice answer its first single capital letter).
struct ParsedOption {
  std::optional<std::string> question_type, reasoning, answer;
  bool valid_format = false;
  bool corrected = false;
  std::optional<std::string> validation_error;
};
ParsedOption extract_option(const std::string& response);

// UCAgentWrapper._extract_inquiries: "@ <header>: <question>" blocks; fewer than two is an error.
struct Inquiry {
  std::optional<int64_t> expert_id;  // "Expert <n>" in the header, when present
  std::string header, question;
};
struct Inquiries {
  std::vector<Inquiry> inquiries;
  std::optional<std::string> validation_error;
};
Inquiries extract_inquiries(const std::string& response);

struct UcAgentOptions {
  // Retries of a step whose output fails the format check. The reference's loop
  // (`while retry_count < MAX_RETRY` with MAX_RETRY = 1) makes one attempt and never retries;
  // the default here is the one retry MAX_RETRY = 1 names (--ucagent_retries 0 = the reference's).
  int retries = 1;
};
AgentOutcome run_ucagent(Caller& caller, const std::string& qs, const UcAgentOptions& options);

// ---- Batch driver --------------------------------------------------------------------------------

// A finished call, for the full trace in predictions.jsonl.
struct StepRecord {
  std::string role;
  int attempt = 1;
  int stage = 0;            // which generate() of the batch carried it (1-based)
  std::string prompt;       // what the agent asked (the reference's prompt for this role)
  std::string sent_prompt;  // what the model received, when it reports it (API suffix added)
  std::optional<double> temperature;
  uint64_t seed = 0;
  std::string output, error;
  int64_t prompt_tokens = -1, completion_tokens = -1;
  double latency_s = 0;
  bool cached = false;
  bool used = true;  // false: see AgentOutcome::unused_calls
  nlohmann::json to_json() const;
};

struct AgentJob {
  std::string qs;                // the task prompt
  std::vector<ImageRef> images;  // sent with every call
  uint64_t seed = 0;             // per-sample seed; each call's seed is derived from it, role and attempt
};

struct AgentJobResult {
  AgentOutcome outcome;
  std::vector<StepRecord> steps;  // in the order the calls were made
};

struct DriverOptions {
  // Requests per generate() call: 0 = every call of a stage at once; 1 = one call at a time (the
  // reference's order; used by the benchmark as the baseline).
  int max_requests_per_generate = 0;
};

struct DriverStats {
  int64_t generate_calls = 0;  // GenerativeModel::generate() invocations
  int64_t requests = 0;        // calls sent
  int64_t stages = 0;          // rounds in which every live sample waited for the model
};

using AgentFn = std::function<AgentOutcome(Caller&, const AgentJob&)>;

// Runs `agent` on every job, batching the calls of all jobs stage by stage (see the file comment).
// Results are in job order. A GenerativeModel exception (a rejected API key) is rethrown after every
// job has stopped.
std::vector<AgentJobResult> run_agent_batch(GenerativeModel& model, const std::vector<AgentJob>& jobs,
                                            const AgentFn& agent, const DriverOptions& options = {},
                                            DriverStats* stats = nullptr);

// The seed of one call: a hash of the sample seed, the role and the attempt, so a retry (same prompt,
// same temperature) is a new draw and not a response-cache hit, and the two level-1 experts differ.
uint64_t call_seed(uint64_t sample_seed, const std::string& role, int attempt);

}  // namespace mvb::agents
