// Slow (use_fast=False) tokenizers against transformers' own slow classes (transformers 4.53.1, the
// reference's pin): LlamaTokenizer over the real LLaMA / Llama-2 tokenizer.model
// (tests/fixtures/tokenizers/llama2-spm), as LLaVA-1.5's builder (AutoTokenizer use_fast=False) and
// XrayGPT (LlamaTokenizer) load it, in both of transformers' behaviours (legacy=True, the default
// when tokenizer_config.json has no "legacy"; legacy=False, as newer checkpoints save it).
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <set>

#include "medvlmbench/text/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

// The committed tokenizer.model.gz, decompressed into `dir`.
void write_llama2_model(const std::string& path) {
  const std::string gz = fixture_path("tokenizers/llama2-spm/tokenizer.model.gz");
  gzFile f = gzopen(gz.c_str(), "rb");
  ASSERT_NE(f, nullptr) << gz;
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  gzclose(f);
  ASSERT_EQ(data.size(), 499723u) << gz << ": not the original tokenizer.model";
  write_text(path, data);
}

struct Variant {
  std::string name;
  json config;
};

TEST(SlowTokenizers, Llama2SentencePieceMatchesSlowLlamaTokenizer) {
  // LLaVA-1.5 / Vicuna-v1.5 style config ("legacy": false) and the legacy default (no key).
  const json base = {{"add_bos_token", true},
                     {"add_eos_token", false},
                     {"bos_token", "<s>"},
                     {"eos_token", "</s>"},
                     {"unk_token", "<unk>"},
                     {"pad_token", nullptr},
                     {"model_max_length", 2048},
                     {"padding_side", "right"},
                     {"sp_model_kwargs", json::object()},
                     {"clean_up_tokenization_spaces", false},
                     {"tokenizer_class", "LlamaTokenizer"}};
  std::vector<Variant> variants = {{"legacy=false", base}, {"legacy default (true)", base}};
  variants[0].config["legacy"] = false;

  std::vector<TempDir> dirs(variants.size());
  auto texts = parity_corpus();
  const auto more = fuzz_texts(200);
  texts.insert(texts.end(), more.begin(), more.end());
  const json pads = {{{"max_length", 24}, {"padding", "longest"}, {"side", "right"}, {"pad_token", "<unk>"}}};
  json jobs = json::array();
  for (size_t v = 0; v < variants.size(); ++v) {
    write_llama2_model(dirs[v] / "tokenizer.model");
    write_text(dirs[v] / "tokenizer_config.json", variants[v].config.dump(2));
    jobs.push_back({{"load", {{"auto", dirs[v].path()}, {"use_fast", false}}}, {"texts", texts}, {"batch", pads}});
  }
  const json out = run_tokenizer_oracle({{"runtime", "reference"}, {"jobs", jobs}});
  ASSERT_FALSE(out.is_null());
  for (size_t v = 0; v < variants.size(); ++v) {
    const json& o = out["jobs"][v];
    const std::string label = "llama2 tokenizer.model, " + variants[v].name;
    EXPECT_EQ(o["class"], "LlamaTokenizer") << label;
    EXPECT_FALSE(o["is_fast"].get<bool>());
    EXPECT_EQ(o["config"]["legacy"].get<bool>(), v == 1) << label;
    const auto tok = text::load_tokenizer(dirs[v].path(), text::Preference::kSlow);
    EXPECT_EQ(tok->kind(), "sentencepiece");
    expect_parity(*tok, texts, o, label);
    // LLaVA's trainer: pad = unk, right padding, truncation to the model length.
    text::PadOptions po;
    po.max_length = 24;
    po.pad_id = 0;
    po.pad_left = false;
    const auto b = tok->encode_padded(texts, po);
    EXPECT_EQ(json(b.input_ids), o["batch"][0]["input_ids"]) << label;
    EXPECT_EQ(json(b.attention_mask), o["batch"][0]["attention_mask"]) << label;
  }
}

}  // namespace
}  // namespace mvb::test

namespace mvb::test {
namespace {

// The kinds of added token a slow LlamaTokenizer tells apart by all_special_tokens (the named tokens plus
// additional_special_tokens), not by added_tokens_decoder's "special" flag: Phi-3's <|system|> / <|end|>
// (flagged special, in no special-token list, one with rstrip), a plain added token, an additional special
// token with and without the flag, one only in additional_special_tokens (added at load, next id), a named
// pad past the SentencePiece vocabulary, and "</s>" (named eos, flagged not special); some strip the spaces
// after them (rstrip), which add_special_tokens resets for the tokens it re-adds.
json added_kinds_config(bool legacy) {
  auto tok = [](const std::string& c, bool special, bool rstrip = false) {
    return json{{"content", c},     {"lstrip", false},      {"normalized", false},
                {"rstrip", rstrip}, {"single_word", false}, {"special", special}};
  };
  json cfg = {{"add_bos_token", true},
              {"add_eos_token", false},
              {"bos_token", "<s>"},
              {"eos_token", "</s>"},
              {"unk_token", "<unk>"},
              {"pad_token", "<pad>"},
              {"clean_up_tokenization_spaces", false},
              {"tokenizer_class", "LlamaTokenizer"},
              {"model_max_length", 2048},
              {"sp_model_kwargs", json::object()},
              {"additional_special_tokens", {"<ast>", "<rev>", "<extra>"}},
              {"added_tokens_decoder",
               {{"0", tok("<unk>", true)},
                {"1", tok("<s>", true)},
                {"2", tok("</s>", false, true)},
                {"32000", tok("<|sys|>", true, true)},
                {"32001", tok("<|end|>", true)},
                {"32002", tok("<added>", false)},
                {"32003", tok("<ast>", true, true)},
                {"32004", tok("<rev>", false, true)},
                {"32005", tok("<pad>", true)}}}};
  if (!legacy) cfg["legacy"] = false;
  return cfg;
}

// Each added token alone, at the start, after text, with and without spaces either side, next to another
// one, and a "\u2581" in front.
std::vector<std::string> added_kinds_texts(const std::vector<std::string>& extra) {
  std::vector<std::string> tokens = {"<|sys|>", "<|end|>", "<added>", "<ast>", "<rev>",
                                     "<extra>", "<pad>",   "<s>",     "</s>",  "<unk>"};
  tokens.insert(tokens.end(), extra.begin(), extra.end());
  std::vector<std::string> texts;
  for (const auto& t : tokens) {
    for (const char* f : {"%", "%hi", "% hi", " %", " % hi", "a%b", "a %b", "a% b", "a % b", "%\nYou are.",
                          "\xE2\x96\x81%x", "x\xE2\x96\x81% y", "%%", "% %", "%<|sys|>\nQ<|end|>\n<added> z"}) {
      std::string s;
      for (const char* p = f; *p; ++p) s += *p == '%' ? t : std::string(1, *p);
      texts.push_back(s);
    }
  }
  texts.push_back("<|sys|>\nYou are a helpful assistant.<|end|>\n<ast>What is it?<|end|>\n<rev> It is </s>");
  texts.push_back("");
  texts.push_back(" ");
  return texts;
}

// Id lists as a model generates them: added tokens of each kind between pieces with and without "\u2581".
std::vector<std::vector<int32_t>> added_kinds_decode_ids(std::vector<int32_t> extra) {
  std::vector<int32_t> added = {32000, 32001, 32002, 32003, 32004, 32005, 32006, 0, 1, 2};
  added.insert(added.end(), extra.begin(), extra.end());
  std::vector<std::vector<int32_t>> out;
  for (int32_t a : added) {
    out.push_back({a});
    out.push_back({a, 2918});                 // "hi"
    out.push_back({a, 7251, 263});            // "\u2581hi", "\u2581a"
    out.push_back({29871, a, 29871, 7251});   // "\u2581", a, "\u2581", "\u2581hi"
    out.push_back({263, a, 2918, 32002, a});  // "\u2581a" a "hi" <added> a
    out.push_back({a, a, 1, 263, 32001, 29890, 2});
  }
  out.push_back({1, 32000, 13, 3492, 526, 29889, 32001, 13, 32003, 32004, 32006, 2});
  out.push_back({});
  return out;
}

int expect_decode_parity(const text::Tokenizer& tok, const std::vector<std::vector<int32_t>>& lists, const json& o,
                         const std::string& label) {
  int bad = 0;
  EXPECT_EQ(o.at("decode").size(), lists.size()) << label;
  for (size_t i = 0; i < lists.size() && i < o.at("decode").size(); ++i) {
    const json& w = o["decode"][i];
    const std::string a = tok.decode(lists[i], false, false, true), b = tok.decode(lists[i], true, false, true);
    const std::string c = tok.decode(lists[i], false, false, false), d = tok.decode(lists[i], true, false, false);
    if (a == w["decoded"] && b == w["decoded_skip"] && c == w["decoded_nospace"] && d == w["decoded_skip_nospace"])
      continue;
    if (++bad <= 5)
      ADD_FAILURE() << label << " ids " << json(lists[i]).dump() << "\n  ours " << json({a, b, c, d}).dump()
                    << "\n  hf   "
                    << json({w["decoded"], w["decoded_skip"], w["decoded_nospace"], w["decoded_skip_nospace"]}).dump();
  }
  EXPECT_EQ(bad, 0) << label;
  return bad;
}

TEST(SlowTokenizers, AddedTokensFollowAllSpecialTokensNotTheSpecialFlag) {
  struct Case {
    std::string name;
    bool legacy;
    std::vector<std::string> add_special;  // add_special_tokens({"additional_special_tokens": ...}) after loading
  };
  // The third case is xGen-MM's update_special_tokens: the list is replaced, so <rev> and <extra> stop being
  // special while <ast> stays, and <image> gets the next id.
  const std::vector<Case> cases = {{"legacy=false", false, {}},
                                   {"legacy default (true)", true, {}},
                                   {"legacy=false + add_special", false, {"<image>", "<ast>"}}};
  std::vector<TempDir> dirs(cases.size());
  json jobs = json::array();
  std::vector<std::vector<std::string>> texts;
  std::vector<std::vector<std::vector<int32_t>>> lists;
  for (size_t c = 0; c < cases.size(); ++c) {
    write_llama2_model(dirs[c] / "tokenizer.model");
    write_text(dirs[c] / "tokenizer_config.json", added_kinds_config(cases[c].legacy).dump(2));
    const bool image = !cases[c].add_special.empty();
    texts.push_back(added_kinds_texts(image ? std::vector<std::string>{"<image>"} : std::vector<std::string>{}));
    lists.push_back(added_kinds_decode_ids(image ? std::vector<int32_t>{32007} : std::vector<int32_t>{}));
    jobs.push_back({{"load", {{"auto", dirs[c].path()}, {"use_fast", false}}},
                    {"add_special", cases[c].add_special},
                    {"texts", texts[c]},
                    {"decode", lists[c]}});
  }
  const json out = run_tokenizer_oracle({{"runtime", "reference"}, {"jobs", jobs}});
  ASSERT_FALSE(out.is_null());
  for (size_t c = 0; c < cases.size(); ++c) {
    const json& o = out["jobs"][c];
    const std::string label = "added tokens, " + cases[c].name;
    ASSERT_EQ(o["class"], "LlamaTokenizer") << label;
    auto tok = text::load_tokenizer(dirs[c].path(), text::Preference::kSlow);
    if (!cases[c].add_special.empty()) tok->add_additional_special_tokens(cases[c].add_special);
    std::vector<int32_t> special_ids;
    for (const auto& id : o["all_special_ids"])
      if (!tok->is_special_id(id.get<int32_t>())) ADD_FAILURE() << label << ": id " << id << " is special in HF";
    for (int32_t id = 0; id < tok->vocab_size(); ++id)
      if (tok->is_special_id(id)) special_ids.push_back(id);
    EXPECT_EQ(special_ids.size(), json(o["all_special_ids"]).get<std::set<int32_t>>().size()) << label;
    expect_parity(*tok, texts[c], o, label);
    expect_decode_parity(*tok, lists[c], o, label);
  }
}

}  // namespace
}  // namespace mvb::test
