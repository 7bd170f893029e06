// Reads the bertscore_expected.json that tests/oracles/tasks/make_bertscore_fixtures.py writes beside a
// BERTScore model (or beside the MiniLM expected outputs): the library's ids per text and its P/R/F1 per
// (candidate, reference, num_layers).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace mvb::test {

using Prf = std::array<double, 3>;

struct TokenCase {
  std::string text, trimmed;
  std::vector<int32_t> ids;
};

struct ScoredPair {
  std::string cand, ref;
  int num_layers = 12;
  Prf prf{};
};

struct BertScoreExpected {
  std::vector<TokenCase> tokens;
  std::vector<ScoredPair> scores;
  const Prf* find(const std::string& cand, const std::string& ref, int num_layers) const {
    for (const auto& s : scores)
      if (s.cand == cand && s.ref == ref && s.num_layers == num_layers) return &s.prf;
    return nullptr;
  }
};

// Fails the test (and returns an empty set) when the file is missing or malformed.
inline BertScoreExpected read_bertscore_expected(const std::string& dir) {
  BertScoreExpected e;
  const std::string path = dir + "/bertscore_expected.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(path));
    for (const auto& t : j.at("tokens"))
      e.tokens.push_back({t.at("text").get<std::string>(), t.at("trimmed").get<std::string>(),
                          t.at("ids").get<std::vector<int32_t>>()});
    for (const auto& s : j.at("scores")) {
      ScoredPair p{s.at("cand").get<std::string>(), s.at("ref").get<std::string>(), s.at("num_layers").get<int>(), {}};
      for (int k = 0; k < 3; ++k) p.prf[static_cast<size_t>(k)] = s.at("prf").at(static_cast<size_t>(k)).get<double>();
      e.scores.push_back(std::move(p));
    }
  } catch (const std::exception& ex) {
    ADD_FAILURE() << path << ": " << ex.what() << " (regenerate with tests/oracles/tasks/make_bertscore_fixtures.py)";
  }
  return e;
}

}  // namespace mvb::test
