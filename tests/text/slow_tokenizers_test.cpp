// Slow (use_fast=False) tokenizers against transformers' own slow classes (transformers 4.53.1, the
// reference's pin): LlamaTokenizer over the real LLaMA / Llama-2 tokenizer.model
// (tests/fixtures/tokenizers/llama2-spm), as LLaVA-1.5's builder (AutoTokenizer use_fast=False) and
// XrayGPT (LlamaTokenizer) load it, in both of transformers' behaviours (legacy=True, the default
// when tokenizer_config.json has no "legacy"; legacy=False, as newer checkpoints save it).
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

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
