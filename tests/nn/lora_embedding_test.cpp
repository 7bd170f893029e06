// nn::Embedding's LoRA adapter against a python3-torch port of PEFT's lora.Embedding
// (peft src/peft/tuners/lora/layer.py @ 5d602fdb: update_layer, reset_lora_parameters, forward's
// vanilla path, get_delta_weight), run on the same tensors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "medvlmbench/build_info.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/vit.h"
#include "support/test_support.h"

namespace mvb::nn {
namespace {

// PEFT's Embedding, reduced to one adapter and the default (non-rslora, non-variant) path.
const char* kPeftEmbeddingPort = R"PY(
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, sys.argv[1] + "/tests/oracles/common")
import st_io

class LoraEmbedding(nn.Module):
    def __init__(self, base_layer, r, lora_alpha):
        super().__init__()
        self.base_layer = base_layer
        self.lora_embedding_A = nn.Parameter(torch.randn((r, base_layer.num_embeddings)))
        self.lora_embedding_B = nn.Parameter(torch.randn((base_layer.embedding_dim, r)))
        self.scaling = lora_alpha / r
        # reset_lora_parameters: "Initialize A to zeros and B the same way as the default for nn.Embedding"
        nn.init.zeros_(self.lora_embedding_A)
        nn.init.normal_(self.lora_embedding_B)

    def _embed(self, input, weight):
        base = self.base_layer
        return F.embedding(input, weight, padding_idx=base.padding_idx, max_norm=base.max_norm,
                           norm_type=base.norm_type, scale_grad_by_freq=base.scale_grad_by_freq, sparse=base.sparse)

    def forward(self, x):
        result = self.base_layer(x)
        embedding_A = self.lora_embedding_A.T
        embedding_B = self.lora_embedding_B.T
        after_A = self._embed(x, embedding_A)
        result = result + (after_A @ embedding_B) * self.scaling
        return result

    def get_delta_weight(self):
        return (self.lora_embedding_B @ self.lora_embedding_A).T * self.scaling

t = st_io.load(sys.argv[2])
r, alpha = int(sys.argv[4]), float(sys.argv[5])
base = nn.Embedding(t["weight"].shape[0], t["weight"].shape[1])
m = LoraEmbedding(base, r, alpha)
init_a_zero = float(m.lora_embedding_A.abs().sum())
with torch.no_grad():
    base.weight.copy_(t["weight"]); m.lora_embedding_A.copy_(t["A"]); m.lora_embedding_B.copy_(t["B"])
    out = m(t["ids"])
    table = m(torch.arange(t["weight"].shape[0]))
    merged = base.weight + m.get_delta_weight()
st_io.save(sys.argv[3], {"out": out, "table": table, "merged": merged, "init_a_abs_sum": torch.tensor([init_a_zero])})
)PY";

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

TEST(LoraEmbedding, ForwardTableAndMergeMatchPeftPort) {
  const std::string py = test::system_python();
  ASSERT_FALSE(py.empty()) << "Debian's /usr/bin/python3 with python3-torch is the oracle for this test";
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
  test::write_text(tmp / "peft_embedding.py", kPeftEmbeddingPort);
  test::CommandResult r = test::run_command(
      {py, tmp / "peft_embedding.py", MVB_SOURCE_DIR, tmp / "in.safetensors", tmp / "out.safetensors", "4", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::StateDict ref = io::open_safetensors(tmp / "out.safetensors");
  EXPECT_EQ(ref.get("init_a_abs_sum").item<double>(), 0.0);

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
  EXPECT_EQ(embs[0].first, "position_embedding");
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
