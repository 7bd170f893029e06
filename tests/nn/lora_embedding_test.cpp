// nn::Embedding's LoRA adapter against PEFT's own lora.Embedding layer (what get_peft_model puts on an
// nn.Embedding target), run live on the same tensors by tests/oracles/nn/peft_embedding_oracle.py with
// the oracle environment.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/vit.h"
#include "support/test_support.h"

namespace mvb::nn {
namespace {

TEST(LoraEmbedding, InitialisesLikePeft) {
  at::manual_seed(0);
  Embedding emb(64, 32);
  emb->enable_lora(LoraConfig{8, 32, 0.05});
  EXPECT_EQ(emb->lora_embedding_A.sizes(), (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(emb->lora_embedding_B.sizes(), (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(emb->lora_embedding_A.abs().sum().item<double>(), 0.0);  // A zeros ...
  const double sd = emb->lora_embedding_B.std().item<double>();      // ... B standard normal
  EXPECT_GT(sd, 0.8);
  EXPECT_LT(sd, 1.2);
  // So the adapted table starts as the base table.
  EXPECT_TRUE(at::equal(emb->table(), emb->weight));
  EXPECT_THROW(emb->enable_lora(LoraConfig{}), std::exception);
}

TEST(LoraEmbedding, ForwardTableAndMergeMatchPeft) {
  MVB_REQUIRE_ORACLE_ENV();
  at::manual_seed(1);
  Embedding emb(10, 6);
  emb->enable_lora(LoraConfig{4, 8, 0.05});  // dropout is not applied by PEFT's Embedding
  emb->train();
  {
    at::NoGradGuard g;
    emb->lora_embedding_A.normal_();  // a trained-looking adapter (A starts at zero)
  }
  at::Tensor ids = at::tensor({3, 0, 9, 3, 7, 1}, at::kLong).view({2, 3});
  test::TempDir tmp;
  io::write_safetensors(tmp / "in.safetensors", {{"weight", emb->weight.detach()},
                                                 {"A", emb->lora_embedding_A.detach()},
                                                 {"B", emb->lora_embedding_B.detach()},
                                                 {"ids", ids}});
  test::CommandResult r = test::run_oracle_python({test::source_dir() + "/tests/oracles/nn/peft_embedding_oracle.py",
                                                   tmp / "in.safetensors", tmp / "out.safetensors", "4", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::StateDict ref = io::open_safetensors(tmp / "out.safetensors");
  // PEFT's initialisation, which enable_lora copies: A zeros, B standard normal.
  EXPECT_EQ(ref.get("init_a_abs_sum").item<double>(), 0.0);
  EXPECT_NEAR(ref.get("init_b_std").item<double>(), 1.0, 0.5);

  at::NoGradGuard g;
  at::Tensor out = emb->forward(ids);  // training mode: still no dropout, as PEFT
  EXPECT_LT((out - ref.get("out")).abs().max().item<double>(), 1e-5);
  EXPECT_LT((emb->table() - ref.get("table")).abs().max().item<double>(), 1e-5);
  // The adapter really changes the output (the check above would pass on the base table otherwise).
  EXPECT_GT((out - at::embedding(emb->weight, ids)).abs().max().item<double>(), 1e-2);
  emb->merge_lora();
  EXPECT_LT((emb->weight - ref.get("merged")).abs().max().item<double>(), 1e-5);
  EXPECT_LT((emb->forward(ids) - ref.get("out")).abs().max().item<double>(), 1e-5);
  emb->unmerge_lora();
  EXPECT_LT((emb->forward(ids) - ref.get("out")).abs().max().item<double>(), 1e-5);
}

TEST(LoraEmbedding, VisionTowerPositionTableIsAnAdaptableEmbeddingOnlyWhereHfHasOne) {
  VisionTransformerOptions o;
  o.image_size = 8;
  o.patch_size = 4;
  o.layer = TransformerLayerOptions{8, 2, 16};
  o.num_layers = 1;
  VisionTransformer hf(o);  // HF CLIP / SigLIP: nn.Embedding
  auto embs = find_embeddings(*hf);
  ASSERT_EQ(embs.size(), 1u);
  EXPECT_EQ(embs[0].first, "embeddings.position_embedding");
  EXPECT_TRUE(embs[0].second->peft_target);
  o.position_embedding_module = false;  // timm: pos_embed is an nn.Parameter
  VisionTransformer timm(o);
  EXPECT_FALSE(find_embeddings(*timm)[0].second->peft_target);

  // The adapted table is what the tower adds to the patch tokens.
  at::manual_seed(2);
  hf->eval();
  at::Tensor px = at::randn({1, 3, 8, 8});
  at::NoGradGuard g;
  at::Tensor before = hf->forward(px).pooled;
  embs[0].second->enable_lora(LoraConfig{2, 4, 0.0});
  EXPECT_TRUE(at::allclose(hf->forward(px).pooled, before));  // A = 0
  embs[0].second->lora_embedding_A.normal_();
  EXPECT_FALSE(at::allclose(hf->forward(px).pooled, before));
}

}  // namespace
}  // namespace mvb::nn
