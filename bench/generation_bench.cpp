// Local generation on CPU (issue 13): a random ~100M-parameter LLaVA-1.5-shaped VLM in the llava-hf
// layout (LLaMA decoder 12 x 768, CLIP ViT 6 x 384 with 49 image tokens; made by transformers in
// tests/oracles/models/generation_bench_reference.py) answers N SLAKE-layout VQA samples with M new
// tokens (greedy; the checkpoint's EOS can never win, so every answer is M tokens on both sides):
//   - our `eval --task vqa` with --batch_size B, samples/s from run.json (model load excluded), against
//     transformers' LlavaForConditionalGeneration.generate at batch 1, one sample at a time (the
//     reference's way), in the same command, fp32, the same thread count; and how many answers agree;
//   - per-token decode latency at batch 1: (t(M tokens) - t(1 token)) / (M - 1), best of 3, both sides;
//   - loading: peak RSS growth (VmHWM after /proc/self/clear_refs) and bytes read from storage per
//     parameter (/proc/self/io read_bytes with the checkpoint evicted from the page cache), both sides.
// The load average is printed: on a shared machine, compare the ratios, not the absolute numbers.
//
//   ninja -C build bench_generation_bench && ./build/bench_generation_bench [samples=64] [new_tokens=32]
//       [batch=16] [threads=0 (one per CPU, nn/cpu_threads.h)]
// Needs the oracle environment (.venv/bin/python or MVB_ORACLE_PYTHON) and the LLaVA model
// (src/models/llava, registered as LLaVA-1.5) with its fixture tokenizer (tests/fixtures/models/llava/hf).
// The harness is bench/support/bench_harness.h (run_vqa_bench). The default 64 x 32 run needs a quiet machine.
// Latest figures: README.md ("Benchmarks"). MVB_SHARE_PROMPT_PREFIX=0 measures without running the shared system
// turn once per batch (nn/generation.h); the fixture's small tokenizer makes that turn 140 of ~232 prompt tokens.
#include "support/bench_harness.h"

int main(int argc, char** argv) {
  mvb::bench::VqaBench b;
  b.name = "generation_bench";
  b.model = "LLaVA-1.5";
  b.script = "tests/oracles/models/generation_bench_reference.py";
  b.make_args = {mvb::bench::source_path("tests/fixtures/models/llava/hf")};  // the fixture's tokenizer
  b.required_files = {"tests/fixtures/models/llava/hf/tokenizer.model"};
  b.making = "the ~100M LLaVA checkpoint";
  b.title = "LLaVA-1.5-shaped random VLM";
  b.loading_what = "fp32 safetensors (3 shards + index)";
  b.ratio_note = " (expected >= 3x)";
  b.samples = 64;
  b.new_tokens = 32;
  b.batch = 16;
  return mvb::bench::run_vqa_bench(b, argc, argv);
}
