// Gemma3 generation on CPU (issue 14) with the fixture-size checkpoint (tests/fixtures/models/gemma3: SigLIP 2 x 16
// at 56 px, 4 image tokens, decoder 3 x 32 with a 48-token sliding window): N VQA requests over the fixture images
// with M new tokens, greedy:
//   - ours (gemma3::Gemma3Model::generate, the runner's path) at batch 1 and at --batch B, samples/s and peak RSS
//     (VmHWM), model load excluded;
//   - transformers' Gemma3ForConditionalGeneration.generate at batch 1, one request at a time (the reference's
//     way), eager attention, fp32, the same thread count, in the same command
//     (tests/oracles/models/gemma3_bench_reference.py); and how many answers agree.
// The load average is printed: on a shared machine, compare the ratios, not the absolute numbers.
//
//   ninja -C build bench_gemma3_bench && ./build/bench_gemma3_bench [samples=32] [new_tokens=32] [batch=8]
//       [threads=0 (one per CPU, nn/cpu_threads.h)]
// Needs the oracle environment (.venv/bin/python or MVB_ORACLE_PYTHON).
// Measured 2026-12-04 (16 x 32, batch 8, 2 threads, load average ~17 on a shared machine): ours 2.41 samples/s at
// batch 1 and 6.01 at batch 8; transformers 0.24 at batch 1 (ours batch 8 24.8x, batch 1 9.9x); peak RSS 185 MB
// (ours) vs 809 MB (transformers, torch imports included); 16/16 answers identical at both batch sizes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/process_stats.h"
#include "medvlmbench/models/gemma3/model.h"
#include "support/bench_harness.h"

namespace fs = std::filesystem;
using namespace mvb;

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv, "gemma3_bench", 32, 32, 8);
  if (!args.ok) return 2;
  const int samples = args.samples, new_tokens = args.new_tokens, batch = args.batch;
  const int threads = args.threads.intra_op;
  const std::string py = bench::oracle_python();
  if (py.empty()) return 1;
  const std::string model_dir = bench::source_path("tests/fixtures/models/gemma3");
  const std::vector<std::string> images = {
      bench::source_path("tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png"),
      bench::source_path("tests/fixtures/demo/ChestXray/test/NORMAL/normal_test_00.png"),
      bench::source_path("tests/fixtures/models/gemma3_images/gradient_900x500.png")};
  const std::vector<std::string> questions = {
      "What organ is shown in this image?", "Is there evidence of pneumonia in the left lung?",
      "Can you provide a medical report for this image?", "Which modality is used to take this image?"};
  std::vector<GenerationRequest> requests;
  nlohmann::json req_json = nlohmann::json::array();
  for (int i = 0; i < samples; ++i) {
    GenerationRequest r;
    r.prompt = questions[i % questions.size()];
    r.images = {ImageRef::file(images[i % images.size()])};
    r.max_new_tokens = new_tokens;
    requests.push_back(r);
    req_json.push_back({{"images", {images[i % images.size()]}}, {"prompt", r.prompt}});
  }
  std::printf("Gemma3 fixture checkpoint, %d samples x %d new tokens (greedy), CPU, %d threads, load %s\n", samples,
              new_tokens, threads, bench::load_average().c_str());

  ModelSpec spec;
  spec.name = "Gemma3";
  spec.model_path = model_dir;
  spec.dtype = "fp32";
  spec.options = {{"batch_size", batch}};
  gemma3::Gemma3Model model(spec, gemma3::Flavor::kGemma3);
  model.generate({requests.front()});  // warm-up
  auto run = [&](int b) {
    std::vector<std::string> answers;
    const double t0 = bench::now_s();
    for (size_t i = 0; i < requests.size(); i += b) {
      std::vector<GenerationRequest> chunk(requests.begin() + i,
                                           requests.begin() + std::min(requests.size(), i + static_cast<size_t>(b)));
      for (const auto& r : model.generate(chunk)) answers.push_back(r.error.empty() ? r.text : "ERROR " + r.error);
    }
    return std::make_pair(samples / (bench::now_s() - t0), answers);
  };
  const auto [sps1, answers1] = run(1);
  const auto [spsb, answersb] = run(batch);
  const double peak = core::proc_status_kb("VmHWM") / 1024.0;

  const std::string work =
      bench::fresh_dir((fs::temp_directory_path() / ("gemma3_bench_" + std::to_string(::getpid()))).string());
  std::ofstream(work + "/requests.json") << req_json.dump();
  const nlohmann::json ref = bench::run_reference(py, "tests/oracles/models/gemma3_bench_reference.py",
                                                  {"run", model_dir, work + "/requests.json", work + "/reference.json",
                                                   std::to_string(threads), std::to_string(new_tokens)},
                                                  work + "/reference.json", work + "/ref.log");
  std::printf("ours  batch 1:  %8.2f samples/s\n", sps1);
  std::printf("ours  batch %d: %8.2f samples/s (%.1fx batch 1)\n", batch, spsb, spsb / sps1);
  std::printf("ours  peak RSS (whole process): %.0f MB\n", peak);
  if (ref.is_object() && ref.contains("samples_per_s")) {
    const double rs = ref["samples_per_s"].get<double>();
    std::printf("transformers batch 1: %8.2f samples/s; ours batch %d is %.1fx, batch 1 %.1fx\n", rs, batch, spsb / rs,
                sps1 / rs);
    std::printf("transformers peak RSS (whole process): %.0f MB\n", ref["peak_rss_mb"].get<double>());
    std::printf("answers equal to transformers': %d/%d (batch 1), %d/%d (batch %d)\n",
                bench::identical_answers(answers1, ref["answers"]), samples,
                bench::identical_answers(answersb, ref["answers"]), samples, batch);
  } else {
    std::printf("transformers reference run failed: see %s/ref.log\n", work.c_str());
    return 1;
  }
  fs::remove_all(work);
  return 0;
}
