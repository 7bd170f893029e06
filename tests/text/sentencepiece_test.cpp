// SentencePiece through the dlopen'ed module, inside a process that also links libtorch (the
// combination that crashes when linked directly), against Debian's python3-sentencepiece.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/text/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

// Texts without the strings the slow Llama tokenizer treats as special tokens (raw SentencePiece
// would tokenize them as text).
std::vector<std::string> plain_texts() {
  std::vector<std::string> out;
  for (const auto& t : parity_corpus())
    if (t.find("<s>") == std::string::npos && t.find("</s>") == std::string::npos &&
        t.find("<unk>") == std::string::npos)
      out.push_back(t);
  return out;
}

std::string train(const TempDir& dir, const std::string& type, int vocab) {
  std::string corpus;
  for (int rep = 0; rep < 3; ++rep)
    for (const auto& t : parity_corpus()) {
      std::string line = t;
      for (auto& c : line)
        if (c == '\n' || c == '\r') c = ' ';
      if (!line.empty()) corpus += line + "\n";
    }
  write_text(dir / "corpus.txt", corpus);
  const std::string prefix = dir / ("m_" + type);
  text::train_sentencepiece("--input=" + dir / "corpus.txt" + " --model_prefix=" + prefix +
                            " --vocab_size=" + std::to_string(vocab) + " --model_type=" + type +
                            " --character_coverage=1.0 --byte_fallback=true --hard_vocab_limit=false"
                            " --minloglevel=2");
  return prefix + ".model";
}

json python_oracle(const std::string& model, const std::vector<std::string>& texts, const TempDir& dir) {
  write_text(dir / "texts.json", json(texts).dump());
  const auto r = run_python(
      "import json, sys, sentencepiece as spm\n"
      "sp = spm.SentencePieceProcessor(model_file=sys.argv[1])\n"
      "texts = json.load(open(sys.argv[2], encoding='utf-8'))\n"
      "out = []\n"
      "for t in texts:\n"
      "    ids = sp.encode(t)\n"
      "    out.append({'ids': ids, 'decoded': sp.decode(ids)})\n"
      "print(json.dumps({'size': sp.get_piece_size(), 'bos': sp.bos_id(), 'results': out}))\n",
      {model, dir / "texts.json"});
  return json::parse(r.out);
}

void check_model_type(const std::string& type) {
  TempDir dir;
  const std::string model = train(dir, type, 1200);
  const auto texts = plain_texts();
  const json want = python_oracle(model, texts, dir);
  const auto tok = text::load_sentencepiece_tokenizer(model);
  EXPECT_EQ(tok->vocab_size(), want["size"].get<int64_t>());
  EXPECT_EQ(tok->special_tokens().bos.id, want["bos"].get<int32_t>());
  int bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& w = want["results"][i];
    const auto ids = tok->encode(texts[i], false);
    const auto want_ids = w["ids"].get<std::vector<int32_t>>();
    const std::string dec = tok->decode_raw(want_ids, false);
    if ((ids != want_ids || dec != w["decoded"].get<std::string>()) && ++bad <= 5)
      ADD_FAILURE() << type << " #" << i << " " << json(texts[i]).dump() << "\n ours " << json(ids).dump() << " "
                    << json(dec).dump() << "\n py   " << w["ids"].dump() << " " << w["decoded"].dump();
    // With special tokens: BOS first (LlamaTokenizer's add_bos_token default).
    auto with = tok->encode(texts[i], true);
    ASSERT_FALSE(with.empty());
    EXPECT_EQ(with.front(), want["bos"].get<int32_t>());
  }
  EXPECT_EQ(bad, 0) << bad << " of " << texts.size() << " texts differ from python3-sentencepiece";
}

TEST(SentencePiece, UnigramMatchesPythonSentencepiece) { check_model_type("unigram"); }
TEST(SentencePiece, BpeWithByteFallbackMatchesPythonSentencepiece) { check_model_type("bpe"); }

TEST(SentencePiece, SpecialTokensAreSplitOutLikeSlowLlamaTokenizer) {
  TempDir dir;
  const std::string model = train(dir, "unigram", 1000);
  const auto tok = text::load_sentencepiece_tokenizer(model);
  const int32_t bos = tok->special_tokens().bos.id, eos = tok->special_tokens().eos.id;
  ASSERT_GE(bos, 0);
  ASSERT_GE(eos, 0);
  const auto hello = tok->encode("Hello", false);
  auto ids = tok->encode("<s>Hello</s>", false);
  std::vector<int32_t> want = {bos};
  want.insert(want.end(), hello.begin(), hello.end());
  want.push_back(eos);
  EXPECT_EQ(ids, want);
  EXPECT_EQ(tok->decode(tok->encode("Hello world", true), true), "Hello world");
  // LlamaTokenizer.convert_tokens_to_string (legacy): when a special token follows text, a space
  // is emitted before the decoded run, giving transformers' familiar "<s> Hello</s>".
  EXPECT_EQ(tok->decode_raw(want, false), "<s> Hello</s>");
}

TEST(SentencePiece, ModuleIsFoundAndMissingModelIsAClearError) {
  EXPECT_NE(text::sentencepiece_module_path().find("libmvb_spm.so"), std::string::npos);
  try {
    text::load_sentencepiece_tokenizer("/nonexistent/tokenizer.model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model"), std::string::npos) << e.what();
  }
}

// SigLIP checkpoints ship spiece.model with SiglipTokenizer: lowercase + canonicalize_text, then EOS.
TEST(SentencePiece, SiglipSpieceModelMatchesCanonicalizeThenSentencepiece) {
  TempDir dir;
  const std::string model = train(dir, "unigram", 1000);
  TempDir ckpt;
  write_text(ckpt / "spiece.model", read_text(model));
  write_text(ckpt / "tokenizer_config.json", R"({"tokenizer_class": "SiglipTokenizer", "eos_token": "</s>",
    "unk_token": "<unk>", "pad_token": "</s>", "model_max_length": 64})");
  const auto tok = text::load_tokenizer(ckpt.path());
  const auto texts = plain_texts();
  write_text(dir / "texts.json", json(texts).dump());
  // transformers' SiglipTokenizer.canonicalize_text, verbatim in behaviour.
  const auto r = run_python(
      "import json, re, string, sys, sentencepiece as spm\n"
      "sp = spm.SentencePieceProcessor(model_file=sys.argv[1])\n"
      "def canon(t):\n"
      "    t = t.lower()\n"  // do_lower_case, true by default
      "    t = t.translate(str.maketrans('', '', string.punctuation))\n"
      "    return re.sub(r'\\s+', ' ', t).strip()\n"
      "print(json.dumps([sp.encode(canon(t)) + [sp.eos_id()] for t in json.load(open(sys.argv[2]))]))\n",
      {ckpt / "spiece.model", dir / "texts.json"});
  const json want = json::parse(r.out);
  int bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tok->encode(texts[i], true);
    if (ids != want[i].get<std::vector<int32_t>>() && ++bad <= 5)
      ADD_FAILURE() << json(texts[i]).dump() << "\n ours " << json(ids).dump() << "\n want " << want[i].dump();
  }
  EXPECT_EQ(bad, 0);
}

// Runs in a child process (below) where MVB_SPM_MODULE points nowhere.
TEST(SentencePieceChild, DISABLED_MissingModuleIsAClearError) {
  try {
    text::load_sentencepiece_tokenizer("/nonexistent/tokenizer.model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("libmvb_spm.so"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/nonexistent/libmvb_spm.so"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ninja mvb_spm"), std::string::npos) << msg;
  }
}

TEST(SentencePiece, MissingModuleIsAClearErrorOnlyWhenNeeded) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  const auto r = run_command({std::string(exe, static_cast<size_t>(n)), "--gtest_also_run_disabled_tests",
                              "--gtest_filter=SentencePieceChild.*"},
                             {"MVB_SPM_MODULE=/nonexistent/libmvb_spm.so"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[  PASSED  ] 1 test"), std::string::npos) << r.out;
  // Tokenizers that do not need SentencePiece load fine without the module.
  TempDir dir;
  write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nok\n");
  EXPECT_EQ(text::load_tokenizer(dir.path())->encode("ok"), (std::vector<int32_t>{2, 5, 3}));
}

TEST(SentencePiece, FolderAutoDetectPrefersTokenizerModelWhenSlowRequested) {
  TempDir dir;
  const std::string model = train(dir, "unigram", 1000);
  TempDir ckpt;
  write_text(ckpt / "tokenizer.model", read_text(model));
  write_text(ckpt / "tokenizer_config.json", R"({"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>",
    "eos_token": "</s>", "unk_token": "<unk>", "model_max_length": 2048, "tokenizer_class": "LlamaTokenizer"})");
  const auto tok = text::load_tokenizer(ckpt.path(), text::Preference::kSlow);
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->config().model_max_length, 2048);
  const auto ids = tok->encode("Hello", true);
  EXPECT_EQ(ids.front(), tok->special_tokens().bos.id);
  EXPECT_EQ(ids.back(), tok->special_tokens().eos.id);
}

}  // namespace
}  // namespace mvb::test
