// The engine over a real CausalLM against transformers' generate() on tiny random checkpoints
// (tests/fixtures/nn/tiny-{llama,qwen2}-generate, made by tests/oracles/nn/make_generation_fixtures.py):
// identical new tokens for prompts of three lengths, alone and as one left-padded batch, greedy and
// with the Qwen instruct generation config; and KV-cache decoding equal to recomputing the sequence.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/nn/weights.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::nn {
namespace {

CausalLM load_causal_lm(const std::string& dir) {
  const std::string cfg = io::join_path(dir, "config.json");
  CausalLM lm(decoder_options_from_config(io::read_json(cfg), cfg));
  const auto sd = io::StateDict::open(dir);
  assign_weights(*lm, read_weights(sd, nullptr), sd.source());  // Hugging Face names, no renames
  lm->eval();
  return lm;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous().view({-1});
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// transformers' new tokens for one row: up to and including the first EOS (a batch pads after it).
std::vector<int64_t> until_eos(const at::Tensor& row, const std::vector<int64_t>& eos) {
  std::vector<int64_t> ids = to_vector(row), out;
  const std::set<int64_t> stop(eos.begin(), eos.end());
  for (int64_t id : ids) {
    out.push_back(id);
    if (stop.count(id)) break;
  }
  return out;
}

struct Fixture {
  std::string dir;
  test::ExpectedOutputs expected;
  std::vector<MultimodalInput> prompts;
};

Fixture open_fixture(const std::string& name) {
  Fixture f;
  f.dir = test::fixture_path("nn/" + name);
  f.expected = test::read_expected(f.dir);
  for (int i = 0; i < 3; ++i)
    f.prompts.push_back({InputChunk::text(to_vector(f.expected.input("prompt_" + std::to_string(i))))});
  return f;
}

// Our engine vs generate() for the three prompts alone and batched; `suffix` picks the outputs.
void expect_same_as_transformers(CausalLMBackend& backend, const Fixture& f, const GenerationConfig& cfg,
                                 const std::string& suffix) {
  int early = 0;
  for (int i = 0; i < 3; ++i) {
    const auto ours = generate(backend, {f.prompts[i]}, cfg).front();
    const auto theirs = until_eos(f.expected.output("single_" + std::to_string(i) + suffix)[0], cfg.eos_token_ids);
    EXPECT_EQ(ours.ids, theirs) << "prompt " << i << suffix;
    EXPECT_EQ(ours.finish_reason, theirs.size() < 32u ? "eos" : "length");
    early += theirs.size() < 32u;
  }
  EXPECT_GE(early, 1) << "the fixture should end one sequence early";
  const auto batch = generate(backend, f.prompts, cfg);
  const at::Tensor theirs = f.expected.output("batch" + suffix);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(batch[i].ids, until_eos(theirs[i], cfg.eos_token_ids)) << "batch row " << i << suffix;
}

TEST(GenerationParity, TinyLlamaGreedyEqualsTransformers) {
  Fixture f = open_fixture("tiny-llama-generate");
  CausalLMBackend backend(load_causal_lm(f.dir));
  // No generation_config.json: the defaults, with eos from config.json.
  GenerationConfig cfg = GenerationConfig::load(f.dir);
  ASSERT_EQ(cfg.eos_token_ids, (std::vector<int64_t>{73}));
  EXPECT_FALSE(cfg.do_sample);
  cfg.max_new_tokens = 32;
  expect_same_as_transformers(backend, f, cfg, "");
}

TEST(GenerationParity, TinyLlamaQwenSettingsEqualTransformers) {
  Fixture f = open_fixture("tiny-llama-generate");
  CausalLMBackend backend(load_causal_lm(f.dir));
  GenerationConfig cfg = GenerationConfig::load(f.dir);
  cfg.max_new_tokens = 32;
  cfg.do_sample = true;
  cfg.top_k = 1;
  cfg.top_p = 0.001;
  cfg.temperature = 0.01;
  cfg.repetition_penalty = 1.05;
  expect_same_as_transformers(backend, f, cfg, "_qwenlike");
}

TEST(GenerationParity, TinyQwen2WithItsGenerationConfigEqualsTransformers) {
  Fixture f = open_fixture("tiny-qwen2-generate");
  CausalLMBackend backend(load_causal_lm(f.dir));
  GenerationConfig cfg = GenerationConfig::load(f.dir);  // the Qwen instruct generation_config.json
  ASSERT_TRUE(cfg.do_sample);
  ASSERT_EQ(cfg.top_k, 1);
  ASSERT_EQ(cfg.eos_token_ids.size(), 2u);
  cfg.max_new_tokens = 32;
  expect_same_as_transformers(backend, f, cfg, "");
}

TEST(GenerationParity, KvCacheDecodingEqualsRecomputing) {
  Fixture f = open_fixture("tiny-llama-generate");
  CausalLM lm = load_causal_lm(f.dir);
  CausalLMBackend backend(lm);
  GenerationConfig cfg;
  cfg.max_new_tokens = 32;  // no EOS: all 32 steps
  at::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto cached = generate(backend, {f.prompts[i]}, cfg).front();
    const double cached_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Greedy by re-running the whole sequence each step, without a cache.
    std::vector<int64_t> seq = f.prompts[i][0].token_ids, recomputed;
    const auto t1 = std::chrono::steady_clock::now();
    for (int step = 0; step < 32; ++step) {
      const auto L = static_cast<int64_t>(seq.size());
      DecoderInputs in;
      in.inputs_embeds = lm->model->embed(at::tensor(seq, at::kLong).unsqueeze(0));
      in.position_ids = at::arange(L, at::kLong).unsqueeze(0);
      const int64_t next = lm->forward(in, nullptr, LogitsFor::kLast).argmax(-1).item<int64_t>();
      recomputed.push_back(next);
      seq.push_back(next);
    }
    const double recomputed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    EXPECT_EQ(cached.ids, recomputed) << "prompt " << i;
    std::cout << "prompt " << i << ": 32 tokens with the KV cache " << cached_s * 1e3 << " ms, recomputing "
              << recomputed_s * 1e3 << " ms\n";
  }
}

// Records the rows and positions of every forward, to see which passes the engine ran.
class RecordingBackend : public CausalLMBackend {
 public:
  using CausalLMBackend::CausalLMBackend;
  at::Tensor forward_last(const DecoderInputs& in, KVCache& cache) override {
    passes.emplace_back(in.inputs_embeds.size(0), in.inputs_embeds.size(1));
    return CausalLMBackend::forward_last(in, cache);
  }
  std::vector<std::pair<int64_t, int64_t>> passes;  // (rows, positions)
};

// Prompts that begin alike (a system turn) run that prefix once at batch 1; each row then continues after it,
// padded in the middle. The new tokens equal each prompt's alone, a prefix below min_shared_prefix or a
// backend that does not allow it is not shared, and an image chunk after the prefix keeps its place.
TEST(GenerationParity, SharedPromptPrefixRunsOnceAndChangesNoToken) {
  Fixture f = open_fixture("tiny-llama-generate");
  CausalLM lm = load_causal_lm(f.dir);
  RecordingBackend backend(lm);
  GenerationConfig cfg;
  cfg.max_new_tokens = 24;
  const std::vector<int64_t> head = f.prompts[2][0].token_ids;  // the longest prompt, as the shared head
  ASSERT_GE(head.size(), 6u);
  std::vector<MultimodalInput> inputs;
  for (int i = 0; i < 3; ++i) {
    std::vector<int64_t> ids = head;
    const auto& own = f.prompts[i][0].token_ids;
    ids.insert(ids.end(), own.begin(), own.begin() + std::min<size_t>(own.size(), 3 + 4 * i));
    inputs.push_back({InputChunk::text(ids)});
  }
  // One prompt with an image chunk (random embeddings) and text after the shared head.
  at::manual_seed(5);
  const at::Tensor picture = at::randn({4, lm->opts.hidden_size}) * 0.02;
  inputs.push_back({InputChunk::text(head), InputChunk::image(picture, {}), InputChunk::text({5, 6, 7})});

  std::vector<std::vector<int64_t>> alone;
  for (const auto& input : inputs) alone.push_back(generate(backend, {input}, cfg).front().ids);

  GenerateOptions share;
  share.min_shared_prefix = 4;
  backend.passes.clear();
  const auto shared = generate(backend, inputs, cfg, share);
  ASSERT_GE(backend.passes.size(), 2u);
  const std::pair<int64_t, int64_t> head_pass{1, static_cast<int64_t>(head.size())};
  EXPECT_EQ(backend.passes[0], head_pass) << "the shared head first, once, at batch 1";
  EXPECT_EQ(backend.passes[1].first, 4);
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(shared[i].ids, alone[i]) << "input " << i;
    EXPECT_EQ(shared[i].prompt_tokens, generate(backend, {inputs[i]}, cfg).front().prompt_tokens);
  }

  GenerateOptions too_short;
  too_short.min_shared_prefix = static_cast<int64_t>(head.size()) + 1;
  backend.passes.clear();
  const auto unshared = generate(backend, inputs, cfg, too_short);
  EXPECT_EQ(backend.passes[0].first, 4) << "a prefix shorter than min_shared_prefix is not run apart";
  for (size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(unshared[i].ids, alone[i]) << "input " << i;
}

}  // namespace
}  // namespace mvb::nn
