// The generation engine (nn/generation.h) driven by a scripted backend whose logits are a
// deterministic function of the tokens each row has seen so far. The backend keeps that history in a
// real KVCache (one layer, one head; a position holds [token, position per stream]), so left padding,
// row removal (select_rows) and the positions the engine hands over are all observable.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "medvlmbench/nn/generation.h"

namespace mvb::nn {
namespace {

// One prefix a row has seen: the values of its unpadded positions, and their positions.
struct RowView {
  std::vector<double> tokens;
  std::vector<std::vector<int64_t>> positions;  // [position][stream]
};

using Script = std::function<std::vector<float>(const RowView&)>;

// splitmix64: reproducible pseudo-random logits from the history (the same prefix always gives the
// same scores, whatever the batch).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Script random_script(int64_t vocab) {
  return [vocab](const RowView& row) {
    uint64_t h = 1469598103934665603ULL;
    for (double t : row.tokens) h = mix(h ^ static_cast<uint64_t>(t * 16));
    std::vector<float> out(vocab);
    for (int64_t v = 0; v < vocab; ++v) out[v] = static_cast<float>((mix(h + v) >> 11) * 0x1.0p-53 * 8.0 - 4.0);
    return out;
  };
}

// Logits with one clear winner.
std::vector<float> one_hot(int64_t vocab, int64_t token) {
  std::vector<float> out(vocab, 0.f);
  out.at(token) = 10.f;
  return out;
}

class ScriptedBackend : public GenerationBackend {
 public:
  ScriptedBackend(Script script, int64_t streams = 1) : script_(std::move(script)), streams_(streams) {}

  at::Tensor embed_tokens(const at::Tensor& ids) override { return ids.to(at::kFloat).unsqueeze(-1); }

  at::Tensor forward_last(const DecoderInputs& in, KVCache& cache) override {
    const int64_t B = in.inputs_embeds.size(0), L = in.inputs_embeds.size(1);
    EXPECT_EQ(cache.batch(), B);
    at::Tensor pos = streams_ == 1 ? in.position_ids.unsqueeze(-1) : in.position_ids.permute({1, 2, 0});
    EXPECT_EQ(pos.sizes(), (std::vector<int64_t>{B, L, streams_}));
    at::Tensor k = at::cat({in.inputs_embeds, pos.to(at::kFloat)}, -1).unsqueeze(1);
    auto kv = cache.append(0, k, k);
    cache.commit(L);
    at::Tensor hist = kv.first.squeeze(1);  // [B, P + L, 1 + streams]
    at::Tensor mask = in.attention_mask.defined() ? in.attention_mask : at::ones({B, hist.size(1)}, at::kLong);
    EXPECT_EQ(mask.sizes(), (std::vector<int64_t>{B, hist.size(1)}));
    calls.push_back({B, L, in.attention_mask.defined(),
                     in.bidirectional_groups.defined() ? in.bidirectional_groups : at::Tensor()});
    std::vector<at::Tensor> logits;
    for (int64_t b = 0; b < B; ++b) {
      RowView row;
      for (int64_t t = 0; t < hist.size(1); ++t) {
        if (mask[b][t].item<int64_t>() == 0) continue;
        row.tokens.push_back(hist[b][t][0].item<double>());
        std::vector<int64_t> p;
        for (int64_t s = 0; s < streams_; ++s) p.push_back(static_cast<int64_t>(hist[b][t][1 + s].item<double>()));
        row.positions.push_back(p);
      }
      seen.push_back(row);
      logits.push_back(at::tensor(script_(row), at::kFloat));
    }
    return at::stack(logits);
  }

  KVCache make_cache(int64_t batch, int64_t capacity) override {
    KVCacheShape shape;
    shape.num_layers = 1;
    shape.batch = batch;
    shape.kv_heads = 1;
    shape.head_dim = 1 + streams_;
    shape.capacity = capacity;
    capacities.push_back(capacity);
    return KVCache(shape, at::kFloat, at::kCPU);
  }
  int64_t position_streams() const override { return streams_; }
  c10::Device device() const override { return at::kCPU; }
  at::ScalarType dtype() const override { return at::kFloat; }

  struct Call {
    int64_t batch, new_len;
    bool masked;
    at::Tensor groups;
  };
  std::vector<Call> calls;
  std::vector<RowView> seen;  // every row of every call, in order
  std::vector<int64_t> capacities;

 private:
  Script script_;
  int64_t streams_;
};

MultimodalInput text(std::vector<int64_t> ids) { return {InputChunk::text(std::move(ids))}; }

GenerationConfig greedy(int64_t max_new_tokens) {
  GenerationConfig c;
  c.max_new_tokens = max_new_tokens;
  return c;
}

TEST(GenerationEngine, PerSequenceFinishWithSeveralEosIds) {
  // A row whose first token is 5 emits 20, 21, 22 then EOS 2; one starting with 6 emits 20..24 then
  // EOS 3; any other never stops.
  constexpr int64_t V = 32;
  ScriptedBackend backend([](const RowView& r) {
    const auto first = static_cast<int64_t>(r.tokens.front());
    const int64_t generated = static_cast<int64_t>(r.tokens.size()) - (first == 7 ? 4 : 2);
    if (first == 5 && generated == 3) return one_hot(V, 2);
    if (first == 6 && generated == 5) return one_hot(V, 3);
    return one_hot(V, 20 + generated % 10);
  });
  GenerationConfig cfg = greedy(8);
  cfg.eos_token_ids = {2, 3};
  auto out = generate(backend, {text({5, 9}), text({7, 9, 9, 9}), text({6, 9})}, cfg);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].ids, (std::vector<int64_t>{20, 21, 22, 2}));
  EXPECT_EQ(out[0].finish_reason, "eos");
  EXPECT_EQ(out[1].ids, (std::vector<int64_t>{20, 21, 22, 23, 24, 25, 26, 27}));
  EXPECT_EQ(out[1].finish_reason, "length");
  EXPECT_EQ(out[2].ids, (std::vector<int64_t>{20, 21, 22, 23, 24, 3}));
  EXPECT_EQ(out[2].finish_reason, "eos");
  EXPECT_EQ(out[0].prompt_tokens, 2);
  EXPECT_EQ(out[1].prompt_tokens, 4);
  // Prefill of 3 rows, then finished rows leave: 3 rows for 3 steps, 2 for 2, then 1.
  std::vector<int64_t> batches;
  for (const auto& c : backend.calls) batches.push_back(c.batch);
  EXPECT_EQ(batches, (std::vector<int64_t>{3, 3, 3, 3, 2, 2, 1, 1}));
  EXPECT_EQ(backend.capacities, (std::vector<int64_t>{4 + 8}));
  for (const auto& o : out) {
    EXPECT_GE(o.prefill_s, 0);
    EXPECT_GE(o.decode_s, 0);
  }
}

TEST(GenerationEngine, LeftPaddedBatchEqualsOneByOneAndPositionsContinue) {
  constexpr int64_t V = 40;
  const std::vector<MultimodalInput> prompts = {text({1, 2, 3, 4, 5, 6, 7}), text({8}), text({9, 10, 11})};
  GenerationConfig cfg = greedy(12);
  cfg.eos_token_ids = {0};
  std::vector<GeneratedSequence> alone;
  for (const auto& p : prompts) {
    ScriptedBackend b(random_script(V));
    alone.push_back(generate(b, {p}, cfg).front());
    EXPECT_FALSE(b.calls.front().masked);  // a batch of one has no padding
  }
  ScriptedBackend backend(random_script(V));
  auto batched = generate(backend, prompts, cfg);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(batched[i].ids, alone[i].ids) << "sequence " << i;
    EXPECT_EQ(batched[i].finish_reason, alone[i].finish_reason);
  }
  EXPECT_TRUE(backend.calls.front().masked);
  // Every row saw exactly its prompt then its own tokens, numbered 0, 1, 2 ... without gaps.
  for (const RowView& r : backend.seen)
    for (size_t t = 0; t < r.positions.size(); ++t) ASSERT_EQ(r.positions[t][0], static_cast<int64_t>(t));
  const RowView& last = backend.seen.back();
  ASSERT_GE(last.tokens.size(), 1u);
  bool some_generated_beyond_prompt = false;
  for (const auto& o : batched) some_generated_beyond_prompt |= o.ids.size() > 1;
  EXPECT_TRUE(some_generated_beyond_prompt);
}

TEST(GenerationEngine, MaxNewTokens) {
  ScriptedBackend backend(random_script(16));
  GenerationConfig cfg = greedy(5);
  auto out = generate(backend, {text({1, 2}), text({3})}, cfg);
  for (const auto& o : out) {
    EXPECT_EQ(o.ids.size(), 5u);
    EXPECT_EQ(o.finish_reason, "length");
  }
  EXPECT_EQ(backend.calls.size(), 5u);  // prefill + 4 decode steps: the 5th token is never fed back
  cfg.max_new_tokens = 0;
  ScriptedBackend idle(random_script(16));
  out = generate(idle, {text({1, 2})}, cfg);
  EXPECT_TRUE(out[0].ids.empty());
  EXPECT_EQ(out[0].prompt_tokens, 2);
  EXPECT_TRUE(idle.calls.empty());
}

TEST(GenerationEngine, StopStringsEndTheSequenceAndKeepTheirTokens) {
  // Token 10 + k is the letter 'a' + k; the script spells a, b, c, d, ...
  constexpr int64_t V = 40;
  auto spell = [](const RowView& r) { return one_hot(V, 10 + static_cast<int64_t>(r.tokens.size()) - 1); };
  GenerationConfig cfg = greedy(10);
  cfg.stop_strings = {"zz", "cd"};
  GenerateOptions opts;
  int decodes = 0;
  opts.decode = [&](const std::vector<int64_t>& ids) {
    ++decodes;
    std::string s;
    for (int64_t id : ids) s += static_cast<char>('a' + id - 10);
    return s;
  };
  ScriptedBackend backend(spell);
  auto out = generate(backend, {text({1})}, cfg, opts);
  EXPECT_EQ(out[0].ids, (std::vector<int64_t>{10, 11, 12, 13}));
  EXPECT_EQ(out[0].finish_reason, "stop_string");
  EXPECT_EQ(decodes, 4);
  // Without a decoder stop strings cannot be seen: the length limit ends it.
  ScriptedBackend again(spell);
  out = generate(again, {text({1})}, cfg);
  EXPECT_EQ(out[0].ids.size(), 10u);
  EXPECT_EQ(out[0].finish_reason, "length");
}

TEST(GenerationEngine, SamplingIsReproducibleAndIndependentOfTheBatch) {
  constexpr int64_t V = 48;
  GenerationConfig cfg = greedy(24);
  cfg.do_sample = true;
  cfg.top_k = 0;
  cfg.temperature = 1.5;  // flat distributions: different seeds diverge quickly
  const MultimodalInput a = text({3, 1, 4}), b = text({1, 5}), c = text({9, 2, 6, 5, 3});
  auto run = [&](const std::vector<MultimodalInput>& in, std::vector<uint64_t> seeds) {
    ScriptedBackend backend(random_script(V));
    GenerateOptions o;
    o.seeds = std::move(seeds);
    return generate(backend, in, cfg, o);
  };
  const auto alone = run({a}, {7});
  EXPECT_EQ(run({a}, {7})[0].ids, alone[0].ids);
  const auto batch = run({b, a, c}, {1, 7, 3});
  EXPECT_EQ(batch[1].ids, alone[0].ids);
  EXPECT_EQ(run({c}, {3})[0].ids, batch[2].ids);
  EXPECT_NE(run({a}, {8})[0].ids, alone[0].ids);
  // Sampling does sample: not the greedy sequence.
  GenerationConfig g = greedy(24);
  ScriptedBackend gb(random_script(V));
  EXPECT_NE(generate(gb, {a}, g)[0].ids, alone[0].ids);
  EXPECT_THROW(run({a, b}, {1}), std::exception);  // one seed per input
}

TEST(GenerationEngine, TopKOneSamplingEqualsGreedy) {
  // The Qwen instruct configs: sampling with top_k 1 after the repetition penalty.
  GenerationConfig cfg = greedy(16);
  cfg.do_sample = true;
  cfg.top_k = 1;
  cfg.top_p = 0.001;
  cfg.temperature = 0.01;
  cfg.repetition_penalty = 1.05;
  ScriptedBackend sb(random_script(32)), gb(random_script(32));
  GenerationConfig g = greedy(16);
  g.repetition_penalty = 1.05;
  EXPECT_EQ(generate(sb, {text({4, 2})}, cfg)[0].ids, generate(gb, {text({4, 2})}, g)[0].ids);
}

TEST(GenerationEngine, RepetitionPenaltySeesPlaceholderAndGeneratedIds) {
  // Fixed scores: token 7 > 8 > 9 > the rest. With penalty 1.5, 7 drops below 8 once it has been seen.
  constexpr int64_t V = 12;
  auto fixed = [](const RowView&) {
    std::vector<float> s(V, 0.f);
    s[7] = 2.0f;
    s[8] = 1.9f;
    s[9] = 1.8f;
    return s;
  };
  GenerationConfig cfg = greedy(3);
  cfg.repetition_penalty = 1.5;
  at::Tensor img = at::full({2, 1}, 100.f);
  ScriptedBackend b1(fixed);
  // Placeholder ids count as prompt ids: 7 is penalised from the first step; then 8, then 9.
  auto out = generate(b1, {{InputChunk::text({1}), InputChunk::image(img, {7, 7})}}, cfg);
  EXPECT_EQ(out[0].ids, (std::vector<int64_t>{8, 9, 7}));
  // Without placeholder ids (generation from embeddings only) 7 is free at first, then penalised.
  ScriptedBackend b2(fixed);
  out = generate(b2, {{InputChunk::text({1}), InputChunk::image(img)}}, cfg);
  EXPECT_EQ(out[0].ids, (std::vector<int64_t>{7, 8, 9}));
  // Left padding is not a token: a padded row is penalised exactly as it would be alone.
  ScriptedBackend b3(fixed);
  auto batch = generate(b3, {text({1}), text({2, 3, 4, 5})}, cfg);
  EXPECT_EQ(batch[0].ids, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(batch[1].ids, (std::vector<int64_t>{7, 8, 9}));
}

TEST(GenerationEngine, MultimodalPositionsAndEmbeddings) {
  // M-RoPE: text continues from the previous maximum + 1; an image chunk is its relative grid offsets
  // plus its start; decoding continues from the largest position + 1 in every stream.
  ScriptedBackend backend([](const RowView&) { return one_hot(8, 4); }, /*streams=*/3);
  at::Tensor img = at::tensor({100.f, 101.f, 102.f, 103.f}).view({4, 1});
  at::Tensor rel = at::tensor({0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1}, at::kLong).view({3, 4});
  MultimodalInput in = {InputChunk::text({1, 2}), InputChunk::image(img, {}, rel), InputChunk::text({3})};
  in[1].bidirectional_group = 1;
  GenerationConfig cfg = greedy(3);
  auto out = generate(backend, {in, text({5})}, cfg);
  EXPECT_EQ(out[0].prompt_tokens, 7);
  // The last row view of sequence 0 (batch row 0 of the last call).
  const RowView& r = backend.seen[backend.seen.size() - 2];
  EXPECT_EQ(r.tokens, (std::vector<double>{1, 2, 100, 101, 102, 103, 3, 4, 4}));
  const std::vector<std::vector<int64_t>> expected = {{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {2, 2, 3}, {2, 3, 2},
                                                      {2, 3, 3}, {4, 4, 4}, {5, 5, 5}, {6, 6, 6}};
  EXPECT_EQ(r.positions, expected);
  const RowView& other = backend.seen.back();
  EXPECT_EQ(other.positions, (std::vector<std::vector<int64_t>>{{0, 0, 0}, {1, 1, 1}, {2, 2, 2}}));
  // Bidirectional groups reach the prefill (left-padded like everything else) and only the prefill.
  ASSERT_TRUE(backend.calls[0].groups.defined());
  EXPECT_TRUE(at::equal(backend.calls[0].groups,
                        at::tensor({0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, at::kLong).view({2, 7})));
  EXPECT_FALSE(backend.calls[1].groups.defined());
  // Consecutive image positions when no relative positions are given; 1-D models get [B, L].
  ScriptedBackend flat([](const RowView&) { return one_hot(8, 4); });
  generate(flat, {{InputChunk::text({1}), InputChunk::image(img), InputChunk::text({2})}}, greedy(1));
  std::vector<std::vector<int64_t>> consecutive;
  for (int64_t t = 0; t < 6; ++t) consecutive.push_back({t});
  EXPECT_EQ(flat.seen[0].positions, consecutive);
}

TEST(GenerationEngine, BadInputsSayWhat) {
  ScriptedBackend backend(random_script(8));
  InputChunk both = InputChunk::text({1});
  both.embeds = at::zeros({1, 1});
  EXPECT_THROW(generate(backend, {{both}}, greedy(2)), std::exception);
  EXPECT_THROW(generate(backend, {MultimodalInput{}}, greedy(2)), std::exception);
  at::Tensor rel = at::zeros({2, 3}, at::kLong);  // 2 streams for a 1-stream model
  EXPECT_THROW(generate(backend, {{InputChunk::image(at::zeros({3, 1}), {}, rel)}}, greedy(2)), std::exception);
  GenerationConfig zero_t = greedy(2);
  zero_t.do_sample = true;
  zero_t.temperature = 0;
  EXPECT_THROW(generate(backend, {text({1})}, zero_t), std::exception);
  EXPECT_TRUE(generate(backend, {}, greedy(2)).empty());
}

}  // namespace
}  // namespace mvb::nn
