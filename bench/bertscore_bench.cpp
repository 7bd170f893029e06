// BERTScore speed against the `bert_score` package called the way the reference calls it, in the
// same run on the same data: MedVLMBench's calculate_bertscore() trims both texts and calls
// bert_score.score([cand], [ref]) once per answer (each call loads the model again). For context the
// package's best case, one batched bert_score.score(cands, refs) call, is timed too. Ours embeds the
// unique texts in length-sorted batches, then matches each pair. Both on the CPU, default threads.
// The model is a random 12-layer BERT (hidden 256 by default) that transformers writes to a temporary
// folder (tests/oracles/tasks/bertscore_bench_reference.py, run with the oracle environment). Prints
// the times, the ratios and the largest F1 difference.
//
//   ninja -C build bench_bertscore_bench && build/bench_bertscore_bench [--pairs N] [--hidden H]
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "medvlmbench/build_info.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/tasks/bertscore.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int run(const std::string& cmd) {
  std::fprintf(stderr, "+ %s\n", cmd.c_str());
  return std::system(cmd.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 200, hidden = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--pairs") pairs = std::atoi(argv[i + 1]);
    if (a == "--hidden") hidden = std::atoi(argv[i + 1]);
  }
  const std::string src = MVB_SOURCE_DIR;
  const std::string py = src + "/.venv/bin/python";
  if (::access(py.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "%s is missing: install the oracle environment with `bash scripts/oracle_env.sh`\n",
                 py.c_str());
    return 1;
  }
  const std::string reference = py + " " + src + "/tests/oracles/tasks/bertscore_bench_reference.py";
  const fs::path dir = fs::temp_directory_path() / ("mvb_bertscore_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = (dir / "model").string();
  if (run(reference + " make " + model + " " + std::to_string(hidden)) != 0) return 1;

  // Answers like a VQA/caption run's: 1-60 words from the vocabulary, letters and unknown words.
  const std::vector<std::string> words = {"left",  "right",     "lung",     "opacity", "heart",  "effusion", "size",
                                          "is",    "normal",    "no",       "finding", "tumor",  "benign",   "xray",
                                          "chest", "pneumonia", "glaucoma", "retina",  "fundus", "large",    "mild"};
  std::mt19937 rng(1);
  std::vector<std::string> cands, refs;
  auto sentence = [&] {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) s += (k ? " " : "") + words[rng() % words.size()];
    return s;
  };
  for (int i = 0; i < pairs; ++i) {
    refs.push_back(sentence());
    cands.push_back(i % 10 == 0 ? refs.back() : sentence());
  }

  mvb::bertscore::Options o;
  o.model_dir = model;
  o.device = "cpu";
  auto t0 = Clock::now();
  auto scorer = mvb::bertscore::Scorer::load(o);
  const double load_s = seconds_since(t0);
  t0 = Clock::now();
  const auto ours = scorer->score(cands, refs);
  const double ours_s = seconds_since(t0);

  json jp = json::array();
  for (int i = 0; i < pairs; ++i) jp.push_back({cands[i], refs[i]});
  mvb::io::write_file_atomic((dir / "req.json").string(), json({{"pairs", jp}}).dump());
  if (run("HF_HUB_OFFLINE=1 " + reference + " score " + model + " " + (dir / "req.json").string() + " " +
          (dir / "out.json").string()) != 0)
    return 1;
  const json ref = mvb::io::read_json((dir / "out.json").string());
  double worst = 0;
  for (int i = 0; i < pairs; ++i) {
    worst = std::max(worst, std::abs(ours[static_cast<size_t>(i)].f1 - ref["f1"][i].get<double>()));
    worst = std::max(worst, std::abs(ours[static_cast<size_t>(i)].f1 - ref["f1_batched"][i].get<double>()));
  }
  const double per_pair_s = ref["per_pair_s"].get<double>(), batched_s = ref["batched_s"].get<double>();
  std::printf("BERTScore, %d pairs, random 12-layer BERT hidden %d, CPU\n", pairs, hidden);
  std::printf("  ours:                  %.3f s (+ %.3f s model load)\n", ours_s, load_s);
  std::printf("  bert_score, reference: %.3f s (one bert_score.score call per pair, as calculate_bertscore)\n",
              per_pair_s);
  std::printf("  bert_score, batched:   %.3f s (one call over all pairs)\n", batched_s);
  std::printf("  ratio reference/ours: %.2fx; batched/ours: %.2fx; max |F1 difference| %.2e\n", per_pair_s / ours_s,
              batched_s / ours_s, worst);
  fs::remove_all(dir);
  return worst < 1e-4 ? 0 : 2;
}
