#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/nn/linear.h"
#include "medvlmbench/nn/transformer.h"

namespace mvb::nn {
namespace {

TEST(LoraLinear, StartsAsTheBaseLayerAndMergesExactly) {
  at::manual_seed(0);
  Linear lin(6, 4, true);
  lin->eval();
  at::Tensor x = at::randn({3, 6});
  at::Tensor base = lin->forward(x).detach();
  lin->enable_lora(LoraConfig{2, 8, 0.0});
  EXPECT_LT((lin->forward(x) - base).abs().max().item<double>(), 1e-7);  // B = 0
  {
    at::NoGradGuard g;
    lin->lora_B.normal_();
  }
  at::Tensor adapted = lin->forward(x).detach();
  // y = xW^T + b + x A^T B^T * alpha / r
  at::Tensor expect = base + at::matmul(at::matmul(x, lin->lora_A.t()), lin->lora_B.t()) * 4.0;
  EXPECT_LT((adapted - expect).abs().max().item<double>(), 1e-5);
  lin->merge_lora();
  EXPECT_LT((lin->forward(x) - adapted).abs().max().item<double>(), 1e-5);
  lin->unmerge_lora();
  EXPECT_LT((lin->forward(x) - adapted).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(lin->enable_lora(LoraConfig{}), std::exception);
}

TEST(LoraLinear, FindsEveryLinearOfATower) {
  TransformerEncoder enc(TransformerLayerOptions{8, 2, 16}, 2);
  auto lins = find_linears(*enc);
  EXPECT_EQ(lins.size(), 12u);  // 4 attention + 2 MLP per layer
  EXPECT_EQ(lins.front().first, "layers.0.self_attn.q_proj");
}

TEST(Attention, MatchesAManualSoftmaxWithPaddingAndCausalMasks) {
  at::manual_seed(1);
  MultiHeadAttention attn(8, 2, true);
  at::Tensor x = at::randn({2, 5, 8});
  at::Tensor keep = at::ones({2, 5}, at::kLong);
  keep[1][4] = 0;
  at::Tensor mask = additive_padding_mask(keep, at::kFloat);
  at::NoGradGuard g;
  at::Tensor y = attn->forward(x, mask, true);
  auto heads = [](const at::Tensor& t) { return t.view({2, 5, 2, 4}).transpose(1, 2); };
  at::Tensor q = heads(at::linear(x, attn->q_proj->weight, attn->q_proj->bias));
  at::Tensor k = heads(at::linear(x, attn->k_proj->weight, attn->k_proj->bias));
  at::Tensor v = heads(at::linear(x, attn->v_proj->weight, attn->v_proj->bias));
  at::Tensor s = at::matmul(q, k.transpose(-1, -2)) / 2.0;  // sqrt(head_dim 4)
  at::Tensor allowed = at::ones({5, 5}, at::kBool).tril().view({1, 1, 5, 5}) & keep.to(at::kBool).view({2, 1, 1, 5});
  s = s.masked_fill(allowed.logical_not(), -1e30);
  at::Tensor o = at::matmul(s.softmax(-1), v).transpose(1, 2).reshape({2, 5, 8});
  at::Tensor expect = at::linear(o, attn->out_proj->weight, attn->out_proj->bias);
  EXPECT_LT((y - expect).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace mvb::nn
