// Speed of the metrics against the Python references on the same data in the same run:
// scikit-learn for 1,000,000 diagnosis predictions (binary and 7-class one-vs-rest), and the
// reference's VQA scoring with nltk (BLEU, METEOR) for 100,000 answers. Prints ratios
// (reference time / our time) and cross-checks that both sides computed the same numbers.
//
//   ninja -C build bench_metrics_bench && build/bench_metrics_bench [--diag N] [--vqa M]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "medvlmbench/build_info.h"
#include "medvlmbench/metrics/classification.h"
#include "medvlmbench/metrics/wordnet.h"
#include "medvlmbench/tasks/task.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class T>
void write_raw(const std::string& path, const std::vector<T>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

// Best of `reps` wall times of fn().
template <class Fn>
double best_of(int reps, Fn fn) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

struct Diag {
  std::vector<int> labels;
  std::vector<double> scores;  // n*k, rows sum to 1
  int k;
};

Diag make_diag(size_t n, int k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Diag d{{}, {}, k};
  d.labels.resize(n);
  d.scores.resize(n * static_cast<size_t>(k));
  for (size_t i = 0; i < n; ++i) {
    const int y = static_cast<int>(rng() % static_cast<uint32_t>(k));
    d.labels[i] = y;
    double z = 0;
    for (int c = 0; c < k; ++c) {
      // Rounded to 3 decimals like float32 softmax outputs written to JSON: many ties.
      double s = u(rng) + (c == y ? 0.6 : 0.0);
      d.scores[i * k + c] = s;
      z += s;
    }
    for (int c = 0; c < k; ++c) d.scores[i * k + c] = std::round(d.scores[i * k + c] / z * 1000) / 1000;
    double rest = 1.0;
    for (int c = 0; c + 1 < k; ++c) rest -= d.scores[i * k + c];
    d.scores[i * k + k - 1] = rest;  // rows sum to 1 (sklearn checks it for multi-class)
  }
  return d;
}

std::vector<json> make_vqa(size_t n, uint32_t seed) {
  static const std::vector<std::string> words = {
      "left",    "right",    "lung",    "lungs",   "heart",    "liver",  "kidney",   "brain", "mass", "tumor",
      "nodule",  "effusion", "pleural", "opacity", "enlarged", "normal", "abnormal", "ct",    "mri",  "x-ray",
      "the",     "a",        "is",      "in",      "of",       "lobe",   "upper",    "lower", "two",  "one",
      "showing", "seen",     "chest",   "abdomen", "axial",    "plane",  "t2",       "3.5cm"};
  std::mt19937 rng(seed);
  auto sentence = [&](int max_words) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % static_cast<uint32_t>(max_words));
    for (int i = 0; i < len; ++i) s += (i ? " " : "") + words[rng() % words.size()];
    if (rng() % 3 == 0) s += ".";
    return s;
  };
  std::vector<json> rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      const std::string ans = sentence(4);
      const std::string pred = rng() % 3 == 0 ? ans : sentence(12);
      rows.push_back({{"id", std::to_string(i)}, {"answer", ans}, {"prediction", pred}, {"question_type", "open"}});
    } else {
      const bool yes = rng() % 2;
      const char* preds[] = {"Yes.", "No, it is not.", "yes", "no", "I am not sure.", "Yes, there is a mass."};
      rows.push_back({{"id", std::to_string(i)},
                      {"answer", yes ? "yes" : "no"},
                      {"prediction", preds[rng() % 6]},
                      {"question_type", "closed"}});
    }
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n_diag = 1000000, n_vqa = 100000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--diag")
      n_diag = std::strtoull(argv[++i], nullptr, 10);
    else if (std::string(argv[i]) == "--vqa")
      n_vqa = std::strtoull(argv[++i], nullptr, 10);
  }
  const std::string python = MVB_SYSTEM_PYTHON;
  if (python.empty()) {
    std::fprintf(stderr, "bench_metrics_bench: /usr/bin/python3 is absent; the sklearn/nltk reference cannot run\n");
    return 1;
  }
  char tmpl[] = "/tmp/mvb_metrics_bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);

  // --- data (not timed) ---
  const Diag bin = make_diag(n_diag, 2, 1), mc = make_diag(n_diag, 7, 2);
  write_raw(dir + "/bin_labels.i32", bin.labels);
  write_raw(dir + "/bin_scores.f64", bin.scores);
  write_raw(dir + "/mc_labels.i32", mc.labels);
  write_raw(dir + "/mc_scores.f64", mc.scores);
  const std::vector<json> vqa_rows = make_vqa(n_vqa, 3);
  if (n_vqa) {
    std::ofstream f(dir + "/vqa.jsonl");
    for (const auto& r : vqa_rows) f << r.dump() << "\n";
  }

  // --- ours ---
  json ours;
  const double t_bin = best_of(3, [&] {
    std::vector<double> pos(n_diag);
    for (size_t i = 0; i < n_diag; ++i) pos[i] = bin.scores[2 * i + 1];
    const auto pred = mvb::metrics::argmax_rows(bin.scores, 2);
    ours["bin_auc"] = *mvb::metrics::binary_auroc(bin.labels, pos);
    ours["bin_acc"] = *mvb::metrics::accuracy(bin.labels, pred);
    ours["bin_bacc"] = *mvb::metrics::balanced_accuracy(bin.labels, pred);
    ours["bin_f1"] = *mvb::metrics::macro_f1(bin.labels, pred);
  });
  const double t_mc = best_of(3, [&] {
    const auto pred = mvb::metrics::argmax_rows(mc.scores, mc.k);
    const auto ovr = mvb::metrics::ovr_auroc(mc.labels, mc.scores, mc.k);
    ours["mc_auc_macro"] = *ovr.macro;
    ours["mc_auc_weighted"] = *ovr.weighted;
    ours["mc_acc"] = *mvb::metrics::accuracy(mc.labels, pred);
    ours["mc_bacc"] = *mvb::metrics::balanced_accuracy(mc.labels, pred);
    ours["mc_f1"] = *mvb::metrics::macro_f1(mc.labels, pred);
  });
  double t_vqa = 0;
  json vqa_metrics;
  if (n_vqa) {
    mvb::metrics::WordNet::shared();  // loaded before timing, as nltk's is on the reference side
    mvb::ScoreOptions opts;
    opts.bootstrap = 0;
    const auto evaluator = mvb::task_registry().get("vqa").evaluator();
    t_vqa = best_of(1, [&] { vqa_metrics = evaluator->score(vqa_rows, opts).metrics; });
  }
  // The evaluator with 1000-resample CIs (ours only: the reference computes none).
  std::vector<json> diag_rows;
  const size_t n_ci = std::min<size_t>(n_diag, 100000);
  for (size_t i = 0; i < n_ci; ++i)
    diag_rows.push_back({{"id", std::to_string(i)},
                         {"label", {bin.labels[i]}},
                         {"scores", {bin.scores[2 * i], bin.scores[2 * i + 1]}}});
  mvb::ScoreOptions ci_opts;
  ci_opts.bootstrap = 1000;
  const auto diag_eval = mvb::task_registry().get("diagnosis").evaluator();
  const double t_ci = best_of(1, [&] { diag_eval->score(diag_rows, ci_opts); });

  // --- reference (same data, same run) ---
  const std::string cmd = python + " " + MVB_SOURCE_DIR + "/tests/oracles/metrics/metrics_bench_reference.py " + dir;
  std::FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = p ? pclose(p) : -1;
  std::filesystem::remove_all(dir);
  if (rc != 0 || out.empty()) {
    std::fprintf(stderr, "bench_metrics_bench: the Python reference failed (rc %d): %s\n", rc, cmd.c_str());
    return 1;
  }
  const json ref = json::parse(out);

  std::printf("metrics benchmark (%zu diagnosis predictions, %zu VQA answers; best of 3 for ours)\n", n_diag, n_vqa);
  std::printf("%-44s %12s %12s %9s\n", "workload", "ours [s]", "reference [s]", "ratio");
  auto line = [](const char* name, double ours_s, double ref_s) {
    std::printf("%-44s %12.4f %12.4f %8.1fx\n", name, ours_s, ref_s, ref_s / ours_s);
  };
  line("diagnosis binary: AUROC+acc+bal.acc+F1 (sklearn)", t_bin, ref["diag_binary_s"].get<double>());
  line("diagnosis 7-class: OvR AUROC x2+acc+bal.acc+F1", t_mc, ref["diag_multiclass_s"].get<double>());
  if (n_vqa) line("VQA: all meters incl. BLEU/METEOR (nltk)", t_vqa, ref["vqa_s"].get<double>());
  std::printf("diagnosis evaluator, %zu rows with 1000-resample CIs (ours only): %.3f s\n", n_ci, t_ci);

  // Cross-checks: the same numbers on both sides.
  int bad = 0;
  for (const char* k :
       {"bin_auc", "bin_acc", "bin_bacc", "bin_f1", "mc_auc_macro", "mc_auc_weighted", "mc_acc", "mc_bacc", "mc_f1"}) {
    const double a = ours[k], b = ref[k];
    if (std::abs(a - b) > 1e-9) {
      std::printf("MISMATCH %s: ours %.12f reference %.12f\n", k, a, b);
      ++bad;
    }
  }
  if (n_vqa) {
    for (const char* k : {"accuracy_open", "accuracy_closed"}) {
      const double a = vqa_metrics[k], b = ref[std::string("vqa_") + k];
      if (std::abs(a - b) > 1e-12) {
        std::printf("MISMATCH vqa %s: ours %.12f reference %.12f\n", k, a, b);
        ++bad;
      }
    }
  }
  std::printf(bad ? "cross-check: %d mismatches\n" : "cross-check: all values agree%.0d\n", bad);
  return bad ? 1 : 0;
}
