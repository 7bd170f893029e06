// Gradient checkpointing of the decoder (nn/checkpoint.h, set_gradient_checkpointing): the
// gradients of a LoRA step equal those of the plain run (dropout on, so the recomputation must replay
// the RNG), the random stream after the step is the same, and the peak CPU tensor memory of forward +
// backward is lower (measured with the counting allocator, core/cpu_memory.h).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "medvlmbench/core/cpu_memory.h"
#include "medvlmbench/nn/checkpoint.h"
#include "medvlmbench/nn/decoder.h"

namespace mvb::nn {
namespace {

DecoderOptions tiny(int64_t layers) {
  DecoderOptions o;
  o.vocab_size = 96;
  o.hidden_size = 64;
  o.intermediate_size = 256;
  o.num_layers = layers;
  o.num_heads = 4;
  o.num_kv_heads = 2;
  o.head_dim = 16;
  o.qkv_bias = true;
  return o;
}

struct StepResult {
  double loss = 0;
  std::vector<std::pair<std::string, at::Tensor>> grads;
  int64_t peak_bytes = 0;
  at::Tensor next_random;
};

// One forward + backward of a LoRA-adapted model (dropout 0.1) on a fixed batch.
StepResult step(bool checkpointing, int64_t layers, int64_t seq) {
  torch::manual_seed(11);
  CausalLM lm(tiny(layers));
  LoraConfig cfg;
  cfg.r = 4;
  cfg.alpha = 8;
  cfg.dropout = 0.1;
  for (auto& [name, lin] : find_linears(*lm))
    if (name.find("layers.") != std::string::npos) lin->enable_lora(cfg);
  for (auto& p : lm->named_parameters(true)) {
    const bool lora = p.key().find("lora_") != std::string::npos;
    if (lora && p.key().find("lora_B") != std::string::npos) {
      at::NoGradGuard g;
      p.value().normal_(0, 0.05);  // B = 0 would leave A without a gradient
    }
    p.value().set_requires_grad(lora);
  }
  set_gradient_checkpointing(*lm->model, checkpointing);
  lm->train();
  const at::Tensor ids = at::randint(0, 96, {2, seq}, at::kLong);
  torch::manual_seed(5);  // the dropout stream
  DecoderInputs in;
  in.inputs_embeds = lm->model->embed(ids);
  core::reset_cpu_peak();
  const int64_t before = core::cpu_live_bytes();
  const at::Tensor logits = lm->forward(in);
  const at::Tensor loss = at::cross_entropy_loss(logits.slice(1, 0, -1).reshape({-1, 96}), ids.slice(1, 1).reshape(-1));
  loss.backward();
  StepResult r;
  r.peak_bytes = core::cpu_peak_bytes() - before;
  r.loss = loss.item<double>();
  for (auto& p : lm->named_parameters(true))
    if (p.value().requires_grad()) r.grads.emplace_back(p.key(), p.value().grad().clone());
  r.next_random = at::rand({4});
  return r;
}

TEST(GradientCheckpointing, DecoderGradientsEqualThePlainRunAndPeakMemoryDrops) {
  core::install_cpu_memory_tracker();
  const int64_t layers = 6, seq = 96;
  const StepResult plain = step(false, layers, seq);
  const StepResult ckpt = step(true, layers, seq);
  EXPECT_EQ(plain.loss, ckpt.loss);
  ASSERT_EQ(plain.grads.size(), ckpt.grads.size());
  ASSERT_EQ(plain.grads.size(), static_cast<size_t>(layers * 7 * 2));
  double worst = 0;
  for (size_t i = 0; i < plain.grads.size(); ++i) {
    ASSERT_EQ(plain.grads[i].first, ckpt.grads[i].first);
    ASSERT_GT(plain.grads[i].second.abs().max().item<double>(), 0.0) << plain.grads[i].first;
    worst = std::max(worst, (plain.grads[i].second - ckpt.grads[i].second).abs().max().item<double>());
  }
  // The same ops on the same inputs, so bitwise equal on CPU.
  EXPECT_EQ(worst, 0.0);
  // The generator ends where the plain run leaves it (the recomputation's dropout replayed the forward's).
  EXPECT_TRUE(plain.next_random.equal(ckpt.next_random));
  std::cout << "[ measured ] peak CPU tensor memory of forward + backward, " << layers << " layers x " << seq
            << " tokens: plain " << plain.peak_bytes / 1024 << " KiB, checkpointed " << ckpt.peak_bytes / 1024
            << " KiB\n";
  ASSERT_GT(plain.peak_bytes, 0);
  EXPECT_LT(ckpt.peak_bytes, plain.peak_bytes * 0.7);
}

TEST(GradientCheckpointing, InputGradientFlowsAndFrozenBlocksPassThrough) {
  // x requires grad, the block's weight is frozen: x still gets the plain gradient.
  torch::manual_seed(1);
  const at::Tensor w = at::randn({8, 8});
  const at::Tensor x0 = at::randn({3, 8});
  auto fn = [&](const at::Tensor& h) { return at::tanh(at::matmul(h, w)) * h; };
  at::Tensor a = x0.clone().requires_grad_(true), b = x0.clone().requires_grad_(true);
  fn(a).sum().backward();
  checkpoint(fn, b, {}).sum().backward();
  ASSERT_TRUE(b.grad().defined());
  EXPECT_TRUE(a.grad().allclose(b.grad(), 0, 0));
  // Without grad mode it is the plain function.
  at::NoGradGuard g;
  EXPECT_FALSE(checkpoint(fn, x0, {}).requires_grad());
}

}  // namespace
}  // namespace mvb::nn
