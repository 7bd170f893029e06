// Pipelines assembled from the tokenizer.json components the checkpoint families use (Unigram,
// WordLevel, char BPE with byte fallback, GPT-2/RoBERTa byte-level), each run through Hugging Face
// tokenizers (the Python package's Tokenizer.from_str) and through ours on the same file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "medvlmbench/text/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

const std::string kMeta = "\xE2\x96\x81";  // ▁

std::set<std::string> corpus_chars(const std::vector<std::string>& texts) {
  std::set<std::string> out;
  for (const auto& t : texts)
    for (size_t i = 0; i < t.size();) {
      const auto c = static_cast<unsigned char>(t[i]);
      const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      out.insert(t.substr(i, n));
      i += n;
    }
  return out;
}

json added(int id, const std::string& content, bool special, bool normalized, bool lstrip = false, bool rstrip = false,
           bool single_word = false) {
  return {{"id", id},         {"content", content},       {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

void check_spec(const json& spec, const std::string& label) {
  const auto texts = parity_corpus();
  const auto oracle = tokenizers_library({{"json", spec.dump()}}, texts);
  const auto tok = text::load_hf_tokenizer_from_string(spec.dump());
  expect_parity(*tok, texts, oracle, label, Decode::kBackend);
}

const std::vector<std::string> kWords = {
    "the",    "lung", "lungs", "is",  "of", "this", "image", "what", "ct", "mri", "and", "a",  "photo", "chest", "xray",
    "normal", "with", "no",    "yes", "he", "in",   "re",    "er",   "an", "on",  "at",  "es", "ing",   "ed",    "al"};

// T5 / ALBERT style: Unigram + Metaspace (prepend "first") + added tokens with strip flags.
TEST(PipelineComponents, UnigramMetaspaceMatchesTokenizers) {
  const auto texts = parity_corpus();
  json vocab = json::array({{"<unk>", 0.0}, {"<s>", 0.0}, {"</s>", 0.0}});
  std::set<std::string> seen = {"<unk>", "<s>", "</s>"};
  auto add = [&](const std::string& p, double score) {
    if (seen.insert(p).second) vocab.push_back({p, score});
  };
  add(kMeta, -3.0);
  double s = -2.0;
  for (const auto& w : kWords) {
    add(kMeta + w, s);
    add(w, s - 1.5);
    s -= 0.1;
  }
  int k = 0;
  for (const auto& c : corpus_chars(texts))
    if (k++ % 3 != 0) add(c, -8.0 - 0.01 * k);  // a third of the chars are unknown
  const int n = static_cast<int>(vocab.size());
  json spec = {
      {"version", "1.0"},
      {"added_tokens",
       {added(0, "<unk>", true, false), added(1, "<s>", true, false), added(2, "</s>", true, false),
        added(n, "[MED]", false, true, true, false), added(n + 1, "<image>", true, false, false, true)}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "NFKC"}},
          {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}},
          {{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}}}}},
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "first"}, {"split", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
        {"pair", {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "first"}, {"split", true}}},
      {"model", {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}, {"byte_fallback", false}}}};
  check_spec(spec, "unigram+metaspace");
}

// WordLevel with accent stripping, Whitespace, Digits and Punctuation pre-tokenizers, no decoder.
TEST(PipelineComponents, WordLevelWhitespaceDigitsMatchesTokenizers) {
  json vocab = json::object({{"[UNK]", 0}, {"[CLS]", 1}});
  int id = 2;
  for (const auto& w : kWords) vocab[w] = id++;
  for (const char* p : {".", ",", "?", "!", "(", ")", "'", "-", ":", ";", "0", "1", "2", "3", "4", "5"})
    vocab[p] = id++;
  json spec = {{"version", "1.0"},
               {"added_tokens", {added(0, "[UNK]", true, false), added(1, "[CLS]", true, false)}},
               {"normalizer",
                {{"type", "Sequence"},
                 {"normalizers", {{{"type", "NFD"}}, {{"type", "StripAccents"}}, {{"type", "Lowercase"}}}}}},
               {"pre_tokenizer",
                {{"type", "Sequence"},
                 {"pretokenizers",
                  {{{"type", "Whitespace"}},
                   {{"type", "Digits"}, {"individual_digits", true}},
                   {{"type", "Punctuation"}, {"behavior", "Isolated"}}}}}},
               {"post_processor", {{"type", "BertProcessing"}, {"sep", {"[CLS]", 1}}, {"cls", {"[CLS]", 1}}}},
               {"decoder", nullptr},
               {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "[UNK]"}}}};
  check_spec(spec, "wordlevel+whitespace+digits");
}

// Character BPE with byte fallback, fused unknowns and the split behaviours.
TEST(PipelineComponents, CharBpeByteFallbackSplitBehavioursMatchesTokenizers) {
  json vocab = json::object({{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}});
  int id = 3;
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    if (b % 5 != 0) vocab[buf] = id++;  // some bytes missing: those characters become <unk>
  }
  for (char c = 'a'; c <= 'z'; ++c) vocab[std::string(1, c)] = id++;
  for (const char* c : {"0", "1", "2", "-", " ", ".", "?", "é", "ö", "中"}) vocab[c] = id++;
  json merges = json::array();
  for (const auto& w : kWords) {
    std::string cur(1, w[0]);
    for (size_t i = 1; i < w.size(); ++i) {
      const std::string next = cur + w[i];
      if (!vocab.contains(next)) {
        merges.push_back(cur + " " + std::string(1, w[i]));
        vocab[next] = id++;
      }
      cur = next;
    }
  }
  json spec = {
      {"version", "1.0"},
      {"added_tokens",
       {added(0, "<unk>", true, false), added(1, "<s>", true, false), added(2, "</s>", true, false),
        added(id, "photo", false, true, false, false, true)}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "NFKC"}},
          {{"type", "Lowercase"}},
          {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}}}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "WhitespaceSplit"}},
          {{"type", "Split"}, {"pattern", {{"Regex", "\\d+"}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}},
          {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "MergedWithNext"}, {"invert", false}},
          {{"type", "Split"}, {"pattern", {{"Regex", "[aeiou]"}}}, {"behavior", "Contiguous"}, {"invert", false}},
          {{"type", "CharDelimiterSplit"}, {"delimiter", "."}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
        {"pair", {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens",
         {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}},
          {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "ByteFallback"}},
          // stop > 0 makes tokenizers panic on an empty token (strip.rs), so only start is used.
          {{"type", "Strip"}, {"content", "x"}, {"start", 2}, {"stop", 0}},
          {{"type", "Fuse"}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merges}}}};
  check_spec(spec, "char-bpe+byte-fallback");
}

// GPT-2 / RoBERTa: ByteLevel with the GPT-2 regex and a prefix space, RoBERTa's <mask> (lstrip).
TEST(PipelineComponents, RobertaByteLevelMatchesTokenizers) {
  std::vector<std::string> bc(256);
  {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const int cp = printable ? b : 256 + n++;
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      bc[b] = s;
    }
  }
  json vocab = json::object({{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}});
  int id = 4;
  for (int b = 0; b < 256; ++b) vocab[bc[b]] = id++;
  json merges = json::array();
  const std::string G = bc[' '];  // Ġ
  for (const auto& w : kWords) {
    std::string cur = G;
    for (char c : w) {
      const std::string next = cur + c;
      if (!vocab.contains(next)) {
        merges.push_back(cur + " " + std::string(1, c));
        vocab[next] = id++;
      }
      cur = next;
    }
  }
  const int mask = id++;
  json spec = {
      {"version", "1.0"},
      {"added_tokens",
       {added(0, "<s>", true, false), added(1, "<pad>", true, false), added(2, "</s>", true, false),
        added(3, "<unk>", true, false), added(mask, "<mask>", true, false, true, false)}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "RobertaProcessing"},
        {"sep", {"</s>", 2}},
        {"cls", {"<s>", 0}},
        {"trim_offsets", true},
        {"add_prefix_space", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", merges}}}};
  check_spec(spec, "roberta-byte-level");
}

}  // namespace
}  // namespace mvb::test
