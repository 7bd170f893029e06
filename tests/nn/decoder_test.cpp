// The LLaMA-family decoder (src/nn/decoder.cpp) against transformers itself: tests/fixtures/nn/decoder/*
// are tiny random LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM / Qwen2VLTextModel
// checkpoints saved with save_pretrained, loaded here by their own tensor names (identity rename), with
// transformers' logits in expected.safetensors (tests/oracles/nn/make_decoder_fixtures.py). Then the
// properties the generation engine relies on: KV-cache decoding equals recomputing, a left-padded
// batch equals one-by-one runs, and the masks are what they say.
#include "medvlmbench/nn/decoder.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/weights.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string dir_of(const std::string& name) { return fixture_path("nn/decoder/" + name); }

nlohmann::json config_of(const std::string& name) {
  return nlohmann::json::parse(read_text(dir_of(name) + "/config.json"));
}

nn::CausalLM load_causal_lm(const std::string& name) {
  const std::string dir = dir_of(name);
  nn::CausalLM m(nn::decoder_options_from_config(config_of(name), dir + "/config.json"));
  io::StateDict sd = io::StateDict::open(dir);
  nn::assign_weights(*m, nn::read_weights(sd, nullptr), sd.source());
  m->eval();
  return m;
}

// Largest |a - b| over the positions the attention mask marks as tokens ([B, L, ...] tensors).
double diff_on_tokens(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  at::Tensor keep = mask.to(at::kBool);
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().index({keep}).max().item<double>();
}

nn::DecoderInputs inputs_for(nn::CausalLM& m, const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& pos) {
  nn::DecoderInputs in;
  in.inputs_embeds = m->model->embed(ids);
  in.attention_mask = mask;
  in.position_ids = pos;
  return in;
}

class CausalLMParity : public ::testing::TestWithParam<const char*> {};

TEST_P(CausalLMParity, LogitsMatchTransformers) {
  const std::string name = GetParam();
  nn::CausalLM m = load_causal_lm(name);
  const ExpectedOutputs ref = read_expected(dir_of(name));
  const at::Tensor ids = ref.input("input_ids"), mask = ref.input("attention_mask"), pos = ref.input("position_ids");
  at::NoGradGuard no_grad;
  at::Tensor logits = m->forward(inputs_for(m, ids, mask, pos));
  const at::Tensor expected = ref.output("logits");
  const double diff = diff_on_tokens(logits, expected, mask);
  EXPECT_LT(diff, 1e-4);
  EXPECT_GT(expected.abs().max().item<double>(), 1.0);  // not a degenerate model
  // Only the last position: the same numbers.
  at::Tensor last = m->forward(inputs_for(m, ids, mask, pos), nullptr, nn::LogitsFor::kLast);
  EXPECT_LT(max_abs_diff(last, expected.select(1, expected.size(1) - 1)), 1e-4);
  std::cout << "[ parity   ] " << name << " logits vs transformers: max |diff| " << diff << "\n";
  // A scaled rope must matter here: the same weights under the default frequencies miss.
  if (m->opts.rope.type != "default") {
    nn::DecoderOptions plain = m->opts;
    plain.rope.type = "default";
    plain.rope.attention_factor = 0;
    nn::CausalLM other(plain);
    io::StateDict sd = io::StateDict::open(dir_of(name));
    nn::assign_weights(*other, nn::read_weights(sd, nullptr), sd.source());
    EXPECT_GT(diff_on_tokens(other->forward(inputs_for(other, ids, mask, pos)), expected, mask), 1e-2);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CausalLMParity,
                         ::testing::Values("tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3",
                                           "tiny-llama-llama3", "tiny-llama-yarn", "tiny-llama-dynamic",
                                           "tiny-llama-linear"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Decoder, Qwen2VlTextModelWithMRopeMatchesTransformers) {
  const std::string name = "tiny-qwen2-vl-text", dir = dir_of(name);
  const nn::DecoderOptions o = nn::decoder_options_from_config(config_of(name), dir + "/config.json");
  EXPECT_EQ(o.rope.mrope_section, (std::vector<int64_t>{2, 3, 3}));
  EXPECT_TRUE(o.qkv_bias);
  // Qwen2VLTextModel is the stack alone: its names are DecoderModel's ("layers.0...", "norm.weight").
  nn::DecoderModel m(o);
  io::StateDict sd = io::StateDict::open(dir);
  nn::assign_weights(*m, nn::read_weights(sd, nullptr), sd.source());
  m->eval();
  const ExpectedOutputs ref = read_expected(dir);
  const at::Tensor pos = ref.input("position_ids"), mask = ref.input("attention_mask");
  ASSERT_EQ(pos.dim(), 3);
  // The three streams differ somewhere (an image block), or M-RoPE would be plain RoPE here.
  EXPECT_GT((pos[1] - pos[0]).abs().max().item<int64_t>(), 0);
  EXPECT_GT((pos[2] - pos[1]).abs().max().item<int64_t>(), 0);
  at::NoGradGuard no_grad;
  nn::DecoderInputs in;
  in.inputs_embeds = m->embed(ref.input("input_ids"));
  in.attention_mask = mask;
  in.position_ids = pos;
  at::Tensor h = m->forward(in).last_hidden_state;
  const double diff = diff_on_tokens(h, ref.output("last_hidden_state"), mask);
  EXPECT_LT(diff, 1e-4);
  // With the streams collapsed to the temporal one the answer must change.
  in.position_ids = pos[0];
  EXPECT_GT(diff_on_tokens(m->forward(in).last_hidden_state, ref.output("last_hidden_state"), mask), 1e-3);
  std::cout << "[ parity   ] " << name << " last_hidden_state vs transformers: max |diff| " << diff << "\n";
}

// Prefill a few positions, then one position at a time over the KV cache: every step's logits equal
// the full-sequence forward at that position (left padding, GQA, the sliding window, tied heads).
// Not the dynamic rope: its frequencies depend on the longest position of each call, so cached keys
// keep the frequencies they were computed with (in transformers too).
TEST(Decoder, KvCacheDecodingEqualsRecomputing) {
  for (const char* name : {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3", "tiny-llama-llama3"}) {
    SCOPED_TRACE(name);
    nn::CausalLM m = load_causal_lm(name);
    const ExpectedOutputs ref = read_expected(dir_of(name));
    const at::Tensor ids = ref.input("input_ids"), mask = ref.input("attention_mask"), pos = ref.input("position_ids");
    const int64_t b = ids.size(0), l = ids.size(1), prefill = 4;
    at::NoGradGuard no_grad;
    const at::Tensor full = m->forward(inputs_for(m, ids, mask, pos));
    nn::KVCache cache = m->make_cache(b, l);
    at::Tensor first = m->forward(
        inputs_for(m, ids.narrow(1, 0, prefill), mask.narrow(1, 0, prefill), pos.narrow(1, 0, prefill)), &cache);
    EXPECT_EQ(cache.length(), prefill);
    double worst = 0;
    if (mask.narrow(1, 0, prefill).sum().item<int64_t>() > 0)
      worst = diff_on_tokens(first, full.narrow(1, 0, prefill), mask.narrow(1, 0, prefill));
    for (int64_t t = prefill; t < l; ++t) {
      at::Tensor step = m->forward(inputs_for(m, ids.narrow(1, t, 1), mask.narrow(1, 0, t + 1), pos.narrow(1, t, 1)),
                                   &cache, nn::LogitsFor::kLast);
      worst = std::max(worst, diff_on_tokens(step.unsqueeze(1), full.narrow(1, t, 1), mask.narrow(1, t, 1)));
    }
    EXPECT_EQ(cache.length(), l);
    EXPECT_LT(worst, 1e-4);
    // Full: one more position is refused, not written past the buffer.
    EXPECT_THROW(
        m->forward(inputs_for(m, ids.narrow(1, 0, 1), at::ones({b, l + 1}, at::kLong), pos.narrow(1, 0, 1)), &cache),
        Error);
    std::cout << "[ cache    ] " << name << " cached decoding vs full forward: max |diff| " << worst << "\n";
  }
}

// transformers' greedy generate() ids, reproduced by prefill + cached decoding with argmax.
TEST(Decoder, GreedyDecodingOverTheCacheMatchesTransformersGenerate) {
  nn::CausalLM m = load_causal_lm("tiny-llama");
  const ExpectedOutputs ref = read_expected(dir_of("tiny-llama"));
  at::Tensor mask = ref.input("attention_mask"), pos = ref.input("position_ids");
  const at::Tensor expected = ref.output("greedy_ids");
  const int64_t b = mask.size(0), steps = expected.size(1);
  at::NoGradGuard no_grad;
  nn::KVCache cache = m->make_cache(b, mask.size(1) + steps);
  at::Tensor logits = m->forward(inputs_for(m, ref.input("input_ids"), mask, pos), &cache, nn::LogitsFor::kLast);
  std::vector<at::Tensor> out;
  for (int64_t s = 0; s < steps; ++s) {
    at::Tensor next = logits.argmax(-1, /*keepdim=*/true);  // [B, 1]
    out.push_back(next);
    if (s + 1 == steps) break;
    mask = at::cat({mask, at::ones({b, 1}, mask.options())}, 1);
    pos = pos.narrow(1, pos.size(1) - 1, 1) + 1;
    logits = m->forward(inputs_for(m, next, mask, pos), &cache, nn::LogitsFor::kLast);
  }
  EXPECT_TRUE(at::equal(at::cat(out, 1), expected)) << at::cat(out, 1) << "\nvs\n" << expected;
}

// Each row of the left-padded batch alone (no padding, positions 0..n-1) gives the batch's logits.
TEST(Decoder, LeftPaddedBatchEqualsOneByOne) {
  for (const char* name : {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"}) {
    SCOPED_TRACE(name);
    nn::CausalLM m = load_causal_lm(name);
    const ExpectedOutputs ref = read_expected(dir_of(name));
    const at::Tensor ids = ref.input("input_ids"), mask = ref.input("attention_mask"), pos = ref.input("position_ids");
    at::NoGradGuard no_grad;
    const at::Tensor batched = m->forward(inputs_for(m, ids, mask, pos));
    double worst = 0;
    int padded_rows = 0;
    for (int64_t i = 0; i < ids.size(0); ++i) {
      const int64_t n = mask[i].sum().item<int64_t>(), l = ids.size(1);
      padded_rows += n < l;
      nn::DecoderInputs in;
      in.inputs_embeds = m->model->embed(ids[i].narrow(0, l - n, n).unsqueeze(0));
      at::Tensor alone = m->forward(in);  // positions and mask default to 0..n-1, all tokens
      worst = std::max(worst, max_abs_diff(alone[0], batched[i].narrow(0, l - n, n)));
    }
    EXPECT_EQ(padded_rows, 1);
    EXPECT_LT(worst, 1e-4);
  }
}

at::Tensor allowed_of(const at::Tensor& additive) { return (additive == 0).to(at::kLong).squeeze(1); }

TEST(DecoderMask, CausalPaddingAndSlidingWindowAfterCachedPositions) {
  // 2 cached positions + 3 new ones; key 0 is padding; window 2 (a query sees itself and one back).
  const at::Tensor pad = at::tensor({0, 1, 1, 1, 1}, at::kLong).view({1, 5});
  at::Tensor windowed = nn::decoder_attention_mask(1, 3, 2, pad, 2, at::Tensor(), at::kFloat, at::kCPU);
  ASSERT_EQ(windowed.sizes(), (std::vector<int64_t>{1, 1, 3, 5}));
  const at::Tensor expect_windowed = at::tensor({0, 1, 1, 0, 0,  //
                                                 0, 0, 1, 1, 0,  //
                                                 0, 0, 0, 1, 1},
                                                at::kLong)
                                         .view({1, 3, 5});
  EXPECT_TRUE(at::equal(allowed_of(windowed), expect_windowed)) << allowed_of(windowed);
  const at::Tensor expect_full = at::tensor({0, 1, 1, 0, 0,  //
                                             0, 1, 1, 1, 0,  //
                                             0, 1, 1, 1, 1},
                                            at::kLong)
                                     .view({1, 3, 5});
  at::Tensor full = nn::decoder_attention_mask(1, 3, 2, pad, 0, at::Tensor(), at::kFloat, at::kCPU);
  EXPECT_TRUE(at::equal(allowed_of(full), expect_full)) << allowed_of(full);
  // Hidden entries hold the dtype's lowest finite value (as transformers), never -inf.
  EXPECT_EQ(full.min().item<float>(), std::numeric_limits<float>::lowest());
  at::Tensor half = nn::decoder_attention_mask(1, 3, 2, pad, 0, at::Tensor(), at::kBFloat16, at::kCPU);
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::isfinite(half).all().item<bool>());
}

TEST(DecoderMask, BidirectionalGroupsSeeEachOtherButNotPadding) {
  // Tokens 1..3 are one image (group 1): they attend to each other both ways; token 4 is causal text.
  const at::Tensor groups = at::tensor({0, 1, 1, 1, 0, /* row 2: two images */ 2, 2, 0, 3, 3}, at::kLong).view({2, 5});
  const at::Tensor pad = at::tensor({0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, at::kLong).view({2, 5});
  at::Tensor m = nn::decoder_attention_mask(2, 5, 0, pad, 0, groups, at::kFloat, at::kCPU);
  const at::Tensor expect = at::tensor({0, 0, 0, 0, 0,  // row 0: key 0 is padding, so query 0 sees nothing
                                        0, 1, 1, 1, 0,  //
                                        0, 1, 1, 1, 0,  //
                                        0, 1, 1, 1, 0,  //
                                        0, 1, 1, 1, 1,  //
                                        1, 1, 0, 0, 0,  // row 1: group 2 = tokens 0, 1; group 3 = tokens 3, 4
                                        1, 1, 0, 0, 0,  //
                                        1, 1, 1, 0, 0,  //
                                        1, 1, 1, 1, 1,  //
                                        1, 1, 1, 1, 1},
                                       at::kLong)
                                .view({2, 5, 5});
  EXPECT_TRUE(at::equal(allowed_of(m), expect)) << allowed_of(m);
}

nlohmann::json legacy_rope(nlohmann::json c) {
  // The published (transformers 4) spelling: rope_theta beside rope_scaling with "type".
  nlohmann::json p = c.at("rope_parameters");
  c.erase("rope_parameters");
  c["rope_theta"] = p.at("rope_theta");
  p.erase("rope_theta");
  if (p.value("rope_type", "default") != "default" || p.contains("mrope_section")) {
    if (!p.contains("type")) p["type"] = p.at("rope_type");
    p.erase("rope_type");
    c["rope_scaling"] = p;
  }
  return c;
}

void expect_same_rope(const nn::RopeOptions& a, const nn::RopeOptions& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.theta, b.theta);
  EXPECT_EQ(a.factor, b.factor);
  EXPECT_EQ(a.low_freq_factor, b.low_freq_factor);
  EXPECT_EQ(a.high_freq_factor, b.high_freq_factor);
  EXPECT_EQ(a.original_max_position_embeddings, b.original_max_position_embeddings);
  EXPECT_EQ(a.attention_factor, b.attention_factor);
  EXPECT_EQ(a.mrope_section, b.mrope_section);
  EXPECT_EQ(a.rotary_dim, b.rotary_dim);
}

TEST(DecoderConfig, ReadsRopeParametersAndPublishedRopeScalingAlike) {
  for (const char* name : {"tiny-llama", "tiny-llama-llama3", "tiny-llama-yarn", "tiny-llama-dynamic",
                           "tiny-llama-linear", "tiny-qwen2-vl-text", "tiny-mistral", "tiny-qwen3"}) {
    SCOPED_TRACE(name);
    const nlohmann::json c = config_of(name);
    ASSERT_TRUE(c.contains("rope_parameters"));  // what transformers 5.23's save_pretrained writes
    const nlohmann::json old = legacy_rope(c);
    ASSERT_FALSE(old.contains("rope_parameters"));
    expect_same_rope(nn::decoder_options_from_config(c, "a.json").rope,
                     nn::decoder_options_from_config(old, "b.json").rope);
  }
  const nn::DecoderOptions l3 = nn::decoder_options_from_config(config_of("tiny-llama-llama3"), "c.json");
  EXPECT_EQ(l3.rope.type, "llama3");
  EXPECT_EQ(l3.rope.factor, 8.0);
  EXPECT_EQ(l3.rope.original_max_position_embeddings, 16);
  const nn::DecoderOptions mistral = nn::decoder_options_from_config(config_of("tiny-mistral"), "m.json");
  EXPECT_EQ(mistral.sliding_window, 4);
  EXPECT_EQ(mistral.num_kv_heads, 2);
  EXPECT_EQ(mistral.rope.theta, 1e6);
  const nn::DecoderOptions qwen = nn::decoder_options_from_config(config_of("tiny-qwen2"), "q.json");
  EXPECT_TRUE(qwen.qkv_bias && !qwen.o_bias && qwen.tie_word_embeddings);
  EXPECT_EQ(qwen.sliding_window, 0);
  const nn::DecoderOptions qwen3 = nn::decoder_options_from_config(config_of("tiny-qwen3"), "q3.json");
  EXPECT_TRUE(qwen3.qk_norm && qwen3.qkv_bias && qwen3.o_bias);
  EXPECT_EQ(qwen3.head_dim, 32);
  EXPECT_EQ(qwen3.sliding_window, 3);
  EXPECT_EQ(qwen3.layer_sliding, (std::vector<bool>{false, true}));
}

TEST(DecoderConfig, LlavaTextConfigTakesLlamaDefaults) {
  // llava-hf's config.json lists only what differs from LlamaConfig in text_config.
  const nlohmann::json c = nlohmann::json::parse(R"({"model_type": "llava", "image_token_index": 32000,
      "text_config": {"model_type": "llama", "vocab_size": 32064, "max_position_embeddings": 4096,
                      "rms_norm_eps": 1e-05, "torch_dtype": "float16"}})");
  const nn::DecoderOptions o = nn::decoder_options_from_config(c, "llava/config.json");
  EXPECT_EQ(o.vocab_size, 32064);
  EXPECT_EQ(o.hidden_size, 4096);
  EXPECT_EQ(o.num_layers, 32);
  EXPECT_EQ(o.num_kv_heads, 32);
  EXPECT_EQ(o.head_dim, 128);
  EXPECT_EQ(o.norm_eps, 1e-5);
  EXPECT_EQ(o.rope.theta, 10000.0);
  EXPECT_EQ(o.rope.max_position_embeddings, 4096);
  EXPECT_FALSE(o.qkv_bias);
  EXPECT_EQ(o.act, nn::Activation::kSilu);
}

void expect_error_naming(const nlohmann::json& c, const std::vector<std::string>& parts) {
  try {
    nn::decoder_options_from_config(c, "/ckpt/config.json");
    ADD_FAILURE() << "no error for " << c.dump();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/ckpt/config.json"), std::string::npos) << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << p << " not in: " << msg;
  }
}

TEST(DecoderConfig, WrongTypesAndUnsupportedValuesNameTheFileAndKey) {
  const nlohmann::json base = config_of("tiny-llama");
  nlohmann::json c = base;
  c["hidden_size"] = "64";
  expect_error_naming(c, {"hidden_size", "integer"});
  c = base;
  c["hidden_act"] = "gelu_bogus";
  expect_error_naming(c, {"hidden_act", "gelu_bogus"});
  c = base;
  c["rope_parameters"]["rope_type"] = "longrope";
  expect_error_naming(c, {"rope_type", "longrope"});
  c = base;
  c["rope_parameters"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"rope_theta", 10000.0}};
  expect_error_naming(c, {"low_freq_factor"});
  c = base;
  c["num_key_value_heads"] = 3;
  expect_error_naming(c, {"num_key_value_heads"});
  c = base;
  c["attention_bias"] = 1;
  expect_error_naming(c, {"attention_bias"});
  c = base;
  c["model_type"] = "gpt2";
  expect_error_naming(c, {"model_type", "gpt2"});
  c = legacy_rope(config_of("tiny-qwen2-vl-text"));
  c["rope_scaling"]["mrope_section"] = {2, 3, 4};
  expect_error_naming(c, {"mrope_section"});
}

// A checkpoint that lacks a tensor, or holds one of the wrong shape, fails with the load report
// naming the file and the tensor.
TEST(Decoder, MissingOrMisshapedTensorNamesTheFile) {
  const std::string dir = dir_of("tiny-llama");
  io::StateDict sd = io::StateDict::open(dir);
  TempDir tmp;
  for (const char* what : {"missing", "shape"}) {
    SCOPED_TRACE(what);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& n : sd.names()) {
      at::Tensor t = sd.get(n);
      if (n == "model.layers.1.mlp.up_proj.weight") {
        if (std::string(what) == "missing") continue;
        t = t.narrow(0, 0, t.size(0) - 1);
      }
      tensors.emplace_back(n, t);
    }
    const std::string path = tmp / (std::string(what) + ".safetensors");
    io::write_safetensors(path, tensors);
    nn::CausalLM m(nn::decoder_options_from_config(config_of("tiny-llama"), dir + "/config.json"));
    io::StateDict bad = io::StateDict::open(path);
    try {
      nn::assign_weights(*m, nn::read_weights(bad, nullptr), bad.source());
      ADD_FAILURE() << "loaded a broken checkpoint";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
    }
  }
}

TEST(Decoder, TiedHeadIsTheEmbeddingTable) {
  nn::CausalLM m = load_causal_lm("tiny-qwen2");
  auto names = m->named_parameters(true).keys();
  EXPECT_EQ(std::count(names.begin(), names.end(), "lm_head.weight"), 0);
  EXPECT_TRUE(m->lm_head->weight.is_same(m->model->embed_tokens->weight));
  nn::CausalLM untied = load_causal_lm("tiny-llama");
  names = untied->named_parameters(true).keys();
  EXPECT_EQ(std::count(names.begin(), names.end(), "lm_head.weight"), 1);
}

TEST(KVCache, SelectRowsKeepsTheChosenRowsInOrder) {
  nn::KVCacheShape s;
  s.num_layers = 2, s.batch = 3, s.kv_heads = 2, s.head_dim = 4, s.capacity = 6;
  nn::KVCache cache(s, at::kFloat, at::kCPU);
  EXPECT_EQ(cache.nbytes(), 2 * 2 * 3 * 2 * 6 * 4 * 4);
  at::Tensor k = at::arange(3 * 2 * 2 * 4, at::kFloat).view({3, 2, 2, 4}), v = -k;
  for (int64_t layer = 0; layer < 2; ++layer) {
    auto [ks, vs] = cache.append(layer, k + layer, v);
    EXPECT_EQ(ks.sizes(), (std::vector<int64_t>{3, 2, 2, 4}));
  }
  cache.commit(2);
  cache.select_rows({2, 0});
  EXPECT_EQ(cache.batch(), 2);
  EXPECT_EQ(cache.length(), 2);
  at::Tensor k1 = k.narrow(2, 0, 1) * 10;
  auto [ks, vs] = cache.append(1, k1.index_select(0, at::tensor({2, 0}, at::kLong)),
                               k1.index_select(0, at::tensor({2, 0}, at::kLong)));
  ASSERT_EQ(ks.size(2), 3);
  EXPECT_TRUE(at::equal(ks.narrow(2, 0, 2), (k + 1).index_select(0, at::tensor({2, 0}, at::kLong))));
  EXPECT_TRUE(at::equal(vs.narrow(2, 0, 2), v.index_select(0, at::tensor({2, 0}, at::kLong))));
  EXPECT_TRUE(at::equal(ks.narrow(2, 2, 1), k1.index_select(0, at::tensor({2, 0}, at::kLong))));
  EXPECT_THROW(cache.select_rows({2}), Error);                                             // outside the batch of 2
  EXPECT_THROW(cache.append(0, at::zeros({2, 2, 5, 4}), at::zeros({2, 2, 5, 4})), Error);  // past capacity
}

// The module cast with ->to(kBFloat16) against transformers' model.to(torch.bfloat16): RMSNorm in
// float32 then cast, attention softmax in float32, rotary tables cast to bf16 before the products.
TEST(Decoder, Bf16MatchesTransformersBf16) {
  for (const char* name : {"tiny-llama", "tiny-qwen2"}) {
    SCOPED_TRACE(name);
    nn::CausalLM m = load_causal_lm(name);
    m->to(at::kBFloat16);
    EXPECT_EQ(m->model->embed_tokens->weight.scalar_type(), at::kBFloat16);
    EXPECT_EQ(m->make_cache(1, 4).shape().capacity, 4);
    const ExpectedOutputs ref = read_expected(dir_of(name));
    const at::Tensor ids = ref.input("input_ids"), mask = ref.input("attention_mask"), pos = ref.input("position_ids");
    at::NoGradGuard no_grad;
    at::Tensor logits = m->forward(inputs_for(m, ids, mask, pos));
    EXPECT_EQ(logits.scalar_type(), at::kFloat);
    const double diff = diff_on_tokens(logits, ref.output("logits_bf16"), mask);
    // bf16 logits ~4 are rounded to ~0.016; what fp32 vs bf16 differ by is the scale to stay well under.
    const double bf16_vs_fp32 = diff_on_tokens(ref.output("logits_bf16"), ref.output("logits"), mask);
    EXPECT_LT(diff, 0.1);
    // Built in bf16 from the start (no fp32 copy ever exists): the same model, the same logits.
    nn::CausalLM direct{nullptr};
    {
      nn::DefaultDtypeGuard bf16(at::kBFloat16);
      direct = nn::CausalLM(m->opts);
    }
    EXPECT_EQ(c10::get_default_dtype(), caffe2::TypeMeta::Make<float>());  // restored
    for (const auto& p : direct->named_parameters()) EXPECT_EQ(p.value().scalar_type(), at::kBFloat16) << p.key();
    io::StateDict sd = io::StateDict::open(dir_of(name));
    nn::assign_weights(*direct, nn::read_weights(sd, nullptr), sd.source());
    EXPECT_TRUE(at::equal(direct->forward(inputs_for(direct, ids, mask, pos)), logits));
    std::cout << "[ parity   ] " << name << " bf16 logits vs transformers bf16: max |diff| " << diff
              << " (transformers bf16 vs fp32: " << bf16_vs_fp32 << ")\n";
  }
}

}  // namespace
}  // namespace mvb::test
