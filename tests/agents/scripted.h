// Test doubles for the agents: a Caller that answers each call from a script keyed by role and
// attempt (the same rule as tests/oracles/agents/agent_prompts_oracle.py's stub backbone), recording
// every call and every stage.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "medvlmbench/agents/agents.h"

namespace mvb::agents::test {

// script["role#attempt"], else script["role"], else "<out:role#attempt>"; "__RAISE__" = a model error.
inline std::string scripted_output(const std::map<std::string, std::string>& script, const std::string& role,
                                   int attempt) {
  const std::string key = role + "#" + std::to_string(attempt);
  if (auto it = script.find(key); it != script.end()) return it->second;
  if (auto it = script.find(role); it != script.end()) return it->second;
  return "<out:" + key + ">";
}

class ScriptedCaller : public Caller {
 public:
  explicit ScriptedCaller(std::map<std::string, std::string> script) : script_(std::move(script)) {}
  std::vector<CallResult> call(const std::vector<AgentCall>& calls) override {
    stages.push_back(calls);
    std::vector<CallResult> out;
    for (const auto& c : calls) {
      all.push_back(c);
      const std::string text = scripted_output(script_, c.role, c.attempt);
      CallResult r;
      if (text == "__RAISE__")
        r.error = "backbone failure at " + c.role + "#" + std::to_string(c.attempt);
      else
        r.text = text;
      out.push_back(r);
    }
    return out;
  }
  std::vector<std::vector<AgentCall>> stages;
  std::vector<AgentCall> all;

 private:
  std::map<std::string, std::string> script_;
};

// A well-formed expert reply.
inline std::string reply(const std::string& type, const std::string& answer) {
  return "#Question Type: " + type + "\n#Reasoning: The image shows what it shows.\n#Answer: " + answer;
}

}  // namespace mvb::agents::test
