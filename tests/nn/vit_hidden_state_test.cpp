// VisionTransformer::hidden_state follows transformers' hidden_states indexing (LLaVA takes -2), and
// the tower's module names are transformers' (embeddings.* level included), so HF state dicts load as is.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/vit.h"

namespace mvb::nn {
namespace {

TEST(VisionTransformer, HiddenStatesIndexLikeTransformers) {
  at::manual_seed(0);
  VisionTransformerOptions o;
  o.image_size = 8;
  o.patch_size = 4;
  o.layer = TransformerLayerOptions{8, 2, 16};
  o.num_layers = 3;
  o.pre_norm = true;  // CLIP: hidden_states[0] is after pre_layrnorm
  VisionTransformer vit(o);
  vit->eval();
  at::NoGradGuard g;
  const at::Tensor px = at::randn({2, 3, 8, 8});
  const at::Tensor emb = vit->pre_layrnorm->forward(vit->embeddings->forward(px));
  EXPECT_TRUE(at::allclose(vit->hidden_state(px, 0), emb));
  const at::Tensor h1 = vit->encoder->typed_layers[0]->forward(emb);
  EXPECT_TRUE(at::allclose(vit->hidden_state(px, 1), h1));
  const at::Tensor h2 = vit->encoder->typed_layers[1]->forward(h1);
  EXPECT_TRUE(at::allclose(vit->hidden_state(px, -2), h2));  // the input of the last layer
  // The last one is last_hidden_state (CLIP applies post_layernorm to the pooled token only).
  EXPECT_TRUE(at::allclose(vit->hidden_state(px, -1), vit->forward(px).last_hidden_state));
  EXPECT_THROW(vit->hidden_state(px, 4), Error);
  EXPECT_THROW(vit->hidden_state(px, -5), Error);

  std::vector<std::string> names;
  for (const auto& p : vit->named_parameters()) names.push_back(p.key());
  for (const char* n :
       {"embeddings.patch_embedding.weight", "embeddings.class_embedding", "embeddings.position_embedding.weight",
        "pre_layrnorm.weight", "encoder.layers.2.self_attn.q_proj.weight", "encoder.layers.0.mlp.fc1.bias",
        "encoder.layers.1.layer_norm2.weight", "post_layernorm.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

}  // namespace
}  // namespace mvb::nn
