// The LLaMA-family decoder (nn::CausalLM + KVCache) against transformers' LlamaForCausalLM on the CPU in
// fp32, in the same run on the same random checkpoint (~90M parameters: hidden 768, 12 layers, 12 heads
// and 4 kv heads, vocabulary 8000, written by tests/oracles/nn/decoder_bench_reference.py): prefill of
// a prompt at batch 1, then per-token greedy decoding over the KV cache, best of a few runs each, with
// the same thread count on both sides. Also checks that both decode the same greedy ids, and times our
// batched decoding (the same prompt 8 times) for the per-sample rate a batched run gets.
//
//   ninja -C build bench_decoder_bench && build/bench_decoder_bench [--prompt 128] [--new 32] [--threads 2]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "medvlmbench/build_info.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/weights.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int run(const std::string& cmd) {
  std::fprintf(stderr, "+ %s\n", cmd.c_str());
  return std::system(cmd.c_str());
}

struct Timing {
  double prefill_s = 1e30, token_s = 1e30;
  std::vector<int64_t> ids;
};

// Prefill `prompt` ([B, P]) then `n` greedy steps; best of `repeats`.
Timing time_decoding(mvb::nn::CausalLM& m, const at::Tensor& prompt, int n, int repeats) {
  Timing t;
  const int64_t b = prompt.size(0), p = prompt.size(1);
  at::InferenceMode guard;
  for (int r = 0; r < repeats; ++r) {
    mvb::nn::KVCache cache = m->make_cache(b, p + n + 1);
    mvb::nn::DecoderInputs in;
    in.inputs_embeds = m->model->embed(prompt);
    auto t0 = Clock::now();
    at::Tensor logits = m->forward(in, &cache, mvb::nn::LogitsFor::kLast);
    const double prefill = seconds_since(t0);
    t0 = Clock::now();
    std::vector<int64_t> ids;
    for (int s = 0; s < n; ++s) {
      at::Tensor next = logits.argmax(-1, /*keepdim=*/true);
      ids.push_back(next[0][0].item<int64_t>());
      mvb::nn::DecoderInputs step;
      step.inputs_embeds = m->model->embed(next);
      step.position_ids = at::full({b, 1}, p + s, at::kLong);
      logits = m->forward(step, &cache, mvb::nn::LogitsFor::kLast);
    }
    t.prefill_s = std::min(t.prefill_s, prefill);
    t.token_s = std::min(t.token_s, seconds_since(t0) / n);
    t.ids = ids;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int prompt_len = 128, new_tokens = 32, threads = 2, repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--prompt") prompt_len = std::atoi(argv[i + 1]);
    if (a == "--new") new_tokens = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
  }
  const std::string src = MVB_SOURCE_DIR;
  const std::string py = src + "/.venv/bin/python";
  if (::access(py.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "%s is missing: install the oracle environment with `bash scripts/oracle_env.sh`\n",
                 py.c_str());
    return 1;
  }
  const std::string reference = "HF_HUB_OFFLINE=1 " + py + " " + src + "/tests/oracles/nn/decoder_bench_reference.py";
  const fs::path dir = fs::temp_directory_path() / ("mvb_decoder_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model_dir = (dir / "model").string();
  if (run(reference + " make " + model_dir) != 0) return 1;

  at::set_num_threads(threads);
  std::mt19937 rng(3);
  std::vector<int64_t> prompt;
  for (int i = 0; i < prompt_len; ++i) prompt.push_back(3 + static_cast<int64_t>(rng() % 7990));

  auto t0 = Clock::now();
  const nlohmann::json cfg = mvb::io::read_json(model_dir + "/config.json");
  mvb::nn::CausalLM m(mvb::nn::decoder_options_from_config(cfg, model_dir + "/config.json"));
  mvb::io::StateDict sd = mvb::io::StateDict::open(model_dir);
  mvb::nn::assign_weights(*m, mvb::nn::read_weights(sd, nullptr), sd.source());
  m->eval();
  const double load_s = seconds_since(t0);
  const at::Tensor ids = at::tensor(prompt, at::kLong).view({1, prompt_len});
  const Timing ours = time_decoding(m, ids, new_tokens, repeats);
  const Timing batched = time_decoding(m, ids.expand({8, prompt_len}).contiguous(), new_tokens, repeats);

  nlohmann::json req = {{"prompt", prompt}, {"new_tokens", new_tokens}, {"threads", threads}, {"repeats", repeats}};
  mvb::io::write_file_atomic((dir / "req.json").string(), req.dump());
  if (run(reference + " time " + model_dir + " " + (dir / "req.json").string() + " " + (dir / "out.json").string()) !=
      0)
    return 1;
  const nlohmann::json ref = mvb::io::read_json((dir / "out.json").string());
  const bool same_ids = ref["ids"].get<std::vector<int64_t>>() == ours.ids;
  const double hf_prefill = ref["prefill_s"], hf_token = ref["decode_token_s"], hf_generate = ref["generate_s"];
  const double ours_total = ours.prefill_s + ours.token_s * new_tokens;
  std::printf("LLaMA decoder, ~90M parameters, fp32 CPU, %d threads, prompt %d, %d new tokens (best of %d)\n", threads,
              prompt_len, new_tokens, repeats);
  std::printf("  load: %.3f s\n", load_s);
  std::printf("  prefill:       ours %.1f ms   transformers %.1f ms   (%.2fx)\n", ours.prefill_s * 1e3,
              hf_prefill * 1e3, hf_prefill / ours.prefill_s);
  std::printf("  decode/token:  ours %.2f ms   transformers %.2f ms   (%.2fx)\n", ours.token_s * 1e3, hf_token * 1e3,
              hf_token / ours.token_s);
  std::printf("  one sample:    ours %.3f s    transformers generate() %.3f s   (%.2fx)\n", ours_total, hf_generate,
              hf_generate / ours_total);
  const double batched_per_sample = (batched.prefill_s + batched.token_s * new_tokens) / 8;
  std::printf("  batch 8:       ours %.3f s per sample (%.2fx transformers generate() at batch 1)\n",
              batched_per_sample, hf_generate / batched_per_sample);
  std::printf("  greedy ids: %s\n", same_ids ? "identical" : "DIFFERENT");
  fs::remove_all(dir);
  return same_ids ? 0 : 2;
}
