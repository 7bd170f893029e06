// The no-grad path of the transformer blocks (in-place activations and residuals, the attention
// scale folded into q, masks applied in place) computes what the autograd path computes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "medvlmbench/nn/transformer.h"

namespace mvb::nn {
namespace {

TEST(InferencePath, TransformerLayerMatchesTheAutogradPath) {
  for (Activation act : {Activation::kQuickGelu, Activation::kGelu, Activation::kGeluTanh, Activation::kRelu})
    for (bool pre_norm : {true, false})
      for (bool causal : {false, true}) {
        at::manual_seed(4);
        TransformerLayerOptions o{16, 4, 32, act, 1e-5, pre_norm, true};
        TransformerLayer layer(o);
        layer->eval();
        at::Tensor x = at::randn({2, 7, 16});
        at::Tensor keep = at::ones({2, 7}, at::kLong);
        keep[0][6] = 0;
        keep[0][5] = 0;
        at::Tensor mask = additive_padding_mask(keep, at::kFloat);
        at::Tensor with_grad = layer->forward(x, mask, causal);  // parameters require grad: graph recorded
        ASSERT_TRUE(with_grad.requires_grad());
        at::NoGradGuard g;
        at::Tensor fast = layer->forward(x, mask, causal);
        EXPECT_LT((fast - with_grad.detach()).abs().max().item<double>(), 1e-5)
            << "act " << static_cast<int>(act) << " pre_norm " << pre_norm << " causal " << causal;
        EXPECT_TRUE(at::isfinite(fast).all().item<bool>());
      }
}

TEST(InferencePath, Bf16AttentionSoftmaxRunsInFloat) {
  at::manual_seed(5);
  MultiHeadAttention attn(16, 2, true);
  at::Tensor x = at::randn({2, 5, 16});
  at::Tensor keep = at::ones({2, 5}, at::kLong);
  keep[1][4] = 0;
  at::NoGradGuard g;
  at::Tensor full = attn->forward(x, additive_padding_mask(keep, at::kFloat), true);
  attn->to(at::kBFloat16);
  at::Tensor half = attn->forward(x.to(at::kBFloat16), additive_padding_mask(keep, at::kBFloat16), true);
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  EXPECT_LT((half.to(at::kFloat) - full).abs().max().item<double>(), 0.05);
}

}  // namespace
}  // namespace mvb::nn
