// BERT vocab.txt (WordPiece) and CLIP vocab.json + merges.txt (byte-level BPE with </w>), built in
// the test from the corpus, against transformers' own classes on the same files (BertTokenizerFast /
// BertTokenizer, CLIPTokenizerFast: what BertModel-based towers and CLIPProcessor load).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "medvlmbench/text/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 1;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xF0) {
      n = 4;
    } else if (c >= 0xE0) {
      n = 3;
    } else if (c >= 0xC0) {
      n = 2;
    }
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// A small BERT vocabulary: specials, every corpus character (plain and ## form), frequent words
// and a few suffixes, so that whole words, word pieces and [UNK] all occur.
std::string make_bert_vocab(const std::vector<std::string>& texts) {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::set<std::string> seen(vocab.begin(), vocab.end());
  auto add = [&](const std::string& t) {
    if (!t.empty() && seen.insert(t).second) vocab.push_back(t);
  };
  std::map<std::string, int> words;
  for (const auto& t : texts) {
    std::string w;
    for (const auto& ch : utf8_chars(t + " ")) {
      if (ch.size() == 1 && !std::isalnum(static_cast<unsigned char>(ch[0]))) {
        if (!w.empty()) ++words[w];
        w.clear();
        if (ch[0] > ' ') add(ch);
      } else {
        w += ch;
      }
    }
  }
  // Whitespace characters never reach the model (BERT's normalizer and pre-tokenizer remove them), so
  // they stay out of the vocabulary.
  const std::set<std::string> spaces = {"\xC2\xA0",     "\xC2\x85",     "\xE3\x80\x80", "\xE2\x80\x89", "\xE2\x80\xA8",
                                        "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE1\x9A\x80"};
  for (const auto& t : texts)
    for (const auto& ch : utf8_chars(t))
      if (static_cast<unsigned char>(ch[0]) > ' ' && ch != "\x7f" && ch.size() < 4 && !spaces.count(ch)) {
        add(ch);
        add("##" + ch);
      }
  for (const char* s : {"##s", "##ing", "##ed", "##ation", "##ly", "##er", "##al", "##ia", "##on", "##ic"}) add(s);
  int k = 0;
  auto has_space = [&](const std::string& w) {
    for (const auto& sp : spaces)
      if (w.find(sp) != std::string::npos) return true;
    return false;
  };
  for (const auto& [w, n] : words)
    if (n >= 1 && !has_space(w) && (k++ % 2 == 0)) add(w);  // every other word: the rest must be split into pieces
  std::string out;
  for (const auto& v : vocab) out += v + "\n";
  return out;
}

// BertTokenizerFast(vocab_file, do_lower_case): transformers converts the vocab.txt with its
// BertConverter, as for a checkpoint folder without tokenizer.json.
json bert_reference(const TempDir& dir, bool lowercase, const std::vector<std::string>& texts, bool fast,
                    const std::string& save = "") {
  json extra = json::object();
  if (!save.empty()) extra["save"] = save;
  return reference_tokenizer({{"class", fast ? "BertTokenizerFast" : "BertTokenizer"},
                              {"files", {{"vocab_file", dir / "vocab.txt"}}},
                              {"kwargs", {{"do_lower_case", lowercase}}}},
                             texts, extra);
}

TEST(VocabTokenizers, BertWordPieceUncasedMatchesBertTokenizerFast) {
  TempDir dir;
  const auto texts = parity_corpus();
  write_text(dir / "vocab.txt", make_bert_vocab(texts));
  const auto oracle = bert_reference(dir, true, texts, true, dir / "saved");
  const auto tok = text::load_wordpiece_vocab(dir / "vocab.txt", true);
  EXPECT_EQ(tok->kind(), "wordpiece-vocab");
  expect_parity(*tok, texts, oracle, "bert-uncased vocab.txt");
  // The folder transformers saved (tokenizer.json + tokenizer_config.json + vocab.txt) loads through
  // the generic path and through the folder loader, with the same results.
  const auto from_json = text::load_hf_tokenizer_json(dir / "saved/tokenizer.json", dir / "saved");
  expect_parity(*from_json, texts, oracle, "bert-uncased tokenizer.json saved by transformers");
  const auto from_folder = text::load_tokenizer(dir / "saved");
  expect_parity(*from_folder, texts, oracle, "bert-uncased folder saved by transformers");
}

TEST(VocabTokenizers, BertWordPieceCasedMatchesBertTokenizerFast) {
  TempDir dir;
  const auto texts = parity_corpus();
  write_text(dir / "vocab.txt", make_bert_vocab(texts));
  const auto oracle = bert_reference(dir, false, texts, true);
  const auto tok = text::load_wordpiece_vocab(dir / "vocab.txt", false);
  expect_parity(*tok, texts, oracle, "bert-cased vocab.txt");
}

TEST(VocabTokenizers, BertFolderUsesDoLowerCaseAndCleansUpSpaces) {
  TempDir dir;
  write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nlung\n##s\nare\nclear\n.\nThe\n");
  write_text(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  const auto tok = text::load_tokenizer(dir.path());
  const auto ids = tok->encode("The lungs are clear.");
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 11, 6, 7, 8, 9, 10, 3}));
  EXPECT_EQ(tok->decode(ids, true), "The lungs are clear.");
  EXPECT_EQ(tok->special_tokens().cls.id, 2);
  EXPECT_EQ(tok->special_tokens().sep.id, 3);
}

// GPT-2 / CLIP byte-to-char table.
std::vector<std::string> byte_chars() {
  std::vector<std::string> t(256);
  int n = 0;
  auto enc = [](int cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    t[b] = enc(printable ? b : 256 + n++);
  }
  return t;
}

// Learns `n_merges` BPE merges on the corpus words (lower-cased ASCII, byte-level, "</w>" on the
// last symbol) and writes CLIP's vocab.json / merges.txt layout.
void make_clip_files(const std::vector<std::string>& texts, int n_merges, const std::string& vocab_path,
                     const std::string& merges_path) {
  const auto bc = byte_chars();
  std::map<std::vector<std::string>, int> words;
  for (const auto& t : texts) {
    std::string w;
    for (char c : t + " ") {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!w.empty()) {
          std::vector<std::string> sym;
          for (unsigned char b : w) sym.push_back(bc[b]);
          sym.back() += "</w>";
          ++words[sym];
        }
        w.clear();
      } else {
        w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  }
  json vocab = json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b) vocab[bc[b]] = id++;
  for (int b = 0; b < 256; ++b) vocab[bc[b] + "</w>"] = id++;
  std::string merges = "#version: 0.2\n";
  for (int m = 0; m < n_merges; ++m) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [sym, n] : words)
      for (size_t i = 0; i + 1 < sym.size(); ++i) pairs[{sym[i], sym[i + 1]}] += n;
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [a, b] = best->first;
    merges += a + " " + b + "\n";
    if (!vocab.contains(a + b)) vocab[a + b] = id++;
    std::map<std::vector<std::string>, int> next;
    for (const auto& [sym, n] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < sym.size(); ++i) {
        if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
          out.push_back(a + b);
          ++i;
        } else {
          out.push_back(sym[i]);
        }
      }
      next[out] += n;
    }
    words.swap(next);
  }
  vocab["<|startoftext|>"] = id++;
  vocab["<|endoftext|>"] = id++;
  write_text(vocab_path, vocab.dump());
  write_text(merges_path, merges);
}

TEST(VocabTokenizers, ClipBpeMatchesClipTokenizerFast) {
  TempDir dir;
  const auto texts = parity_corpus();
  make_clip_files(texts, 400, dir / "vocab.json", dir / "merges.txt");
  // CLIPTokenizerFast(vocab_file, merges_file): transformers' CLIPConverter builds the pipeline, and
  // its decode() replaces "</w>" and strips, as CLIPProcessor does for a folder without tokenizer.json.
  const auto oracle =
      reference_tokenizer({{"class", "CLIPTokenizerFast"},
                           {"files", {{"vocab_file", dir / "vocab.json"}, {"merges_file", dir / "merges.txt"}}}},
                          texts);
  const auto tok = text::load_clip_bpe(dir / "vocab.json", dir / "merges.txt");
  EXPECT_EQ(tok->kind(), "clip-bpe");
  expect_parity(*tok, texts, oracle, "clip vocab.json+merges.txt");
  // The zero-shot prompt CLIP sees: <|startoftext|> ... <|endoftext|>.
  const auto ids = tok->encode("a photo of  chest xray with pneumonia");
  EXPECT_EQ(ids.front(), tok->special_tokens().bos.id);
  EXPECT_EQ(ids.back(), tok->special_tokens().eos.id);
  EXPECT_EQ(tok->decode(ids, true), "a photo of chest xray with pneumonia");
}

TEST(VocabTokenizers, MissingTokenizerFilesAreAClearError) {
  TempDir dir;
  try {
    text::load_tokenizer(dir.path());
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace mvb::test
