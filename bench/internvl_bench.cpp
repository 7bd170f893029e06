// InternVL3 generation on CPU (issue 14) with the tiny -hf fixture checkpoint
// (tests/fixtures/models/internvl: InternViT 2 x 16 with 56 px tiles, Qwen2 2 x 32), at its default
// image budget (1..12 tiles + thumbnail: the SLAKE fixture's 32 px images give 1 tile, the 190 x 60 one
// 3 + 1): N SLAKE-layout VQA samples with M new tokens, greedy,
//   - ours: `eval --task vqa` with --batch_size B (left-padded batches), samples/s from run.json, peak
//     RSS growth over the run (VmHWM after /proc/self/clear_refs);
//   - transformers' InternVLForConditionalGeneration.generate at batch 1, one sample at a time (the
//     reference's way), in the same command, fp32, the same thread count: samples/s, peak RSS growth
//     (tests/oracles/models/internvl_bench_reference.py); and how many answers agree.
// The load average is printed: on a shared machine, compare the ratios, not the absolute numbers.
//
//   ninja -C build bench_internvl_bench && ./build/bench_internvl_bench [samples=32] [new_tokens=32]
//       [batch=8] [threads=0 (one per CPU, nn/cpu_threads.h)]
// Measured 2026-12-04 (8 samples x 32 tokens, batch 4, 2 threads, load average ~18 on the shared 2-core machine):
// ours 5.89 samples/s vs transformers 0.263 (22.4x), 8/8 answers identical; peak RSS growth 29 vs 36 MiB.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/bench_harness.h"

namespace fs = std::filesystem;
using namespace mvb;

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv, "internvl_bench", 32, 32, 8);
  if (!args.ok) return 2;
  const int n = args.samples, new_tokens = args.new_tokens, batch = args.batch;
  const std::string py = bench::oracle_python();
  if (py.empty()) return 1;
  const std::string ckpt = bench::source_path("tests/fixtures/models/internvl");
  const std::string work = bench::fresh_dir("/tmp/mvb_internvl_bench");
  // The SLAKE fixture's images plus one wide image (several tiles) for every fourth question.
  bench::SlakeFolder folder(work + "/data");
  const std::vector<std::string> names = folder.add_fixture_images();
  const std::string wide =
      folder.add_image("wide", bench::source_path("tests/fixtures/models/qwen2_vl_images/wide_190x60.png"));
  const std::vector<std::string> qs = {"What organ is shown in this image?",
                                       "Which modality is used to take this image?",
                                       "Does the picture contain the heart?", "Where is the abnormality located?"};
  for (int i = 0; i < n; ++i)
    folder.add_question(i % 4 == 3 ? wide : names[i % names.size()], qs[i % qs.size()], "Yes");
  const std::string data = folder.write();
  std::printf("InternVL3 tiny -hf fixture, %d samples x %d new tokens, CPU, %d threads (load %s at start)\n", n,
              new_tokens, args.threads.intra_op, bench::load_average().c_str());

  const bench::EvalRun ours = bench::run_vqa_eval("InternVL3", ckpt, data, work + "/out", batch, new_tokens);
  std::ofstream(work + "/samples.json") << bench::reference_samples(ours.rows).dump();
  const std::string ref_json = work + "/reference.json";
  const nlohmann::json ref = bench::run_reference(py, "tests/oracles/models/internvl_bench_reference.py",
                                                  {"run", ckpt, work + "/samples.json", ref_json,
                                                   std::to_string(args.threads.intra_op), std::to_string(new_tokens)},
                                                  ref_json);
  if (ref.is_null()) return 1;
  const int agree = bench::identical_answers(bench::predictions(ours.rows), ref["answers"]);
  const double ref_sps = ref["samples_per_s"].get<double>();
  std::printf("  (load average %s at end)\n", bench::load_average().c_str());
  std::printf("  ours, eval --batch_size %d:               %8.3f samples/s, peak RSS growth %7.1f MiB\n", batch,
              ours.samples_per_s, ours.peak_rss_growth_mib);
  std::printf("  transformers generate, batch 1 (%d thr):  %8.3f samples/s, peak RSS growth %7.1f MiB\n",
              ref["threads"].get<int>(), ref_sps, ref["peak_rss_mb"].get<double>());
  std::printf("  ratio ours / transformers: %.2fx; identical answers %d/%zu\n", ours.samples_per_s / ref_sps, agree,
              ours.rows.size());
  fs::remove_all(work);
  return 0;
}
