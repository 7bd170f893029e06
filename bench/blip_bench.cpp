// BLIP VQA on CPU (issue 14) with the fixture-size BlipForQuestionAnswering (tests/fixtures/models/blip/vqa: ViT
// 2 x 32 at its own 32 px image budget (16 patches), BERT question encoder and answer decoder 2 x 32, vocabulary
// 113), remade at bench time by tests/oracles/models/blip_bench_reference.py with [SEP] never winning, so every
// answer is M tokens on both sides; N SLAKE-layout VQA samples with M new tokens, greedy:
//   - our `eval --task vqa` with --batch_size B, samples/s from run.json (model load excluded), against
//     transformers' BlipForQuestionAnswering.generate at batch 1, one sample at a time (the reference's way; its
//     own batching fails, GENERATIVE.md 3.2), in the same command, fp32, the same thread count; and how many
//     answers agree;
//   - per-token decode latency at batch 1: (t(M tokens) - t(1 token)) / (M - 1), best of 3, both sides;
//   - loading: peak RSS growth and bytes read per parameter (page cache evicted), both sides.
// The load average is printed: on a shared machine, compare the ratios, not the absolute numbers.
// The harness is bench/support/bench_harness.h (run_vqa_bench).
//
//   ninja -C build bench_blip_bench && ./build/bench_blip_bench [samples=32] [new_tokens=32] [batch=8]
//       [threads=0 (one per CPU, nn/cpu_threads.h)]
// Needs the oracle environment (.venv/bin/python or MVB_ORACLE_PYTHON).
// Measured 2026-12-04 (8 samples x 32 tokens, batch 4, 2 threads, load average ~14 on the shared 2-core machine):
// ours 2.63 samples/s vs transformers 0.211 (12.4x), 8/8 answers identical, 32 tokens each; per-token decode at
// batch 1 13.9 vs 120.7 ms (0.11x); peak RSS growth after loading 6.0 vs 9.5 MiB, through the first answer 16.4 vs
// 31.8 MiB.
#include "support/bench_harness.h"

int main(int argc, char** argv) {
  mvb::bench::VqaBench b;
  b.name = "blip_bench";
  b.model = "BLIP";
  b.script = "tests/oracles/models/blip_bench_reference.py";
  b.make_args = {mvb::bench::source_path("tests/fixtures/models/blip/vqa")};
  b.required_files = {"tests/fixtures/models/blip/vqa/model.safetensors"};
  b.making = "the fixture-size BLIP VQA checkpoint (answers never end early)";
  b.title = "BlipForQuestionAnswering fixture-size random VLM";
  b.loading_what = "fp32 safetensors (1 file)";
  b.samples = 32;
  b.new_tokens = 32;
  b.batch = 8;
  return mvb::bench::run_vqa_bench(b, argc, argv);
}
