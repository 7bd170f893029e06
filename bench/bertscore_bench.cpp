// BERTScore speed against the reference's way of computing it, in the same run on the same data:
// MedVLMBench calls bert_score once per answer (one forward of the pair, then matching), which
// scripts/reference/bertscore_reference.py reproduces on python3-torch (its model loaded once, which
// favours it: the real calculate_bertscore() reloads the model on every call). Ours embeds the
// unique texts in length-sorted batches, then matches each pair. Both on the CPU, default threads.
// The model is a random 12-layer BERT (hidden 256 by default) written to a temporary folder in the
// Bio_ClinicalBERT layout. Prints both times, the ratio, and the largest F1 difference.
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
#include <set>
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
  int pairs = 400, hidden = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--pairs") pairs = std::atoi(argv[i + 1]);
    if (a == "--hidden") hidden = std::atoi(argv[i + 1]);
  }
  const std::string src = MVB_SOURCE_DIR, py = MVB_SYSTEM_PYTHON;
  const fs::path dir = fs::temp_directory_path() / ("mvb_bertscore_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = (dir / "model").string();
  // The fixture script's BERT writer at a larger width, with the tiny fixture's vocabulary.
  const std::string make = "import sys, os, json, shutil, torch; sys.path.insert(0, '" + src +
                           "/tests/oracles/models'); sys.path.insert(0, '" + src + "/tests/oracles/common'); import make_model_fixtures as m; out = '" + model +
                           "'; os.makedirs(out, exist_ok=True); voc = '" + src +
                           "/tests/fixtures/models/tiny-clinicalbert/vocab.txt'; shutil.copy(voc, out); "
                           "n = len(open(voc).read().split()); torch.manual_seed(0); sd = {}; h = " +
                           std::to_string(hidden) +
                           "; m.bert_state(sd, 'bert.', n, h, 4 * h, 12, max_pos=512); "
                           "torch.save(sd, out + '/pytorch_model.bin'); "
                           "json.dump({'model_type': 'bert', 'hidden_size': h, 'num_attention_heads': max(1, h // 64), "
                           "'num_hidden_layers': 12, 'intermediate_size': 4 * h, 'vocab_size': n, "
                           "'max_position_embeddings': 512, 'type_vocab_size': 2}, open(out + '/config.json', 'w'))";
  if (run(py + " -c \"" + make + "\"") != 0) return 1;

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

  json ids = json::object(), jp = json::array();
  for (int i = 0; i < pairs; ++i) {
    ids[cands[i]] = scorer->token_ids(cands[i]);
    ids[refs[i]] = scorer->token_ids(refs[i]);
    jp.push_back({cands[i], refs[i]});
  }
  mvb::io::write_file_atomic((dir / "req.json").string(),
                             json({{"num_layers", 12}, {"pairs", jp}, {"ids", ids}}).dump());
  if (run(py + " " + src + "/tests/oracles/tasks/bertscore_reference.py score " + model + " " +
          (dir / "req.json").string() + " " + (dir / "out.json").string()) != 0)
    return 1;
  const json ref = mvb::io::read_json((dir / "out.json").string());
  double worst = 0;
  for (int i = 0; i < pairs; ++i)
    worst = std::max(worst, std::abs(ours[static_cast<size_t>(i)].f1 - ref["scores"][i][2].get<double>()));
  const double ref_s = ref["seconds"].get<double>();
  std::printf("BERTScore, %d pairs, random 12-layer BERT hidden %d, CPU\n", pairs, hidden);
  std::printf("  ours:      %.3f s (+ %.3f s model load)\n", ours_s, load_s);
  std::printf("  reference: %.3f s (python3-torch port, one bert_score call per pair, model loaded once)\n", ref_s);
  std::printf("  ratio reference/ours: %.2fx; max |F1 difference| %.2e\n", ref_s / ours_s, worst);
  fs::remove_all(dir);
  return worst < 1e-4 ? 0 : 2;
}
