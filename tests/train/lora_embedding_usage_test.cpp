// PEFT-parity of the diagnosis LoRA usages: the reference's PEFT config targets every nn.Linear and
// nn.Embedding of the vision tower, so HF CLIP's position_embedding carries an adapter (trained by
// img-lora-lp / clip-img-lora, saved and reloaded), while timm's pos_embed (an nn.Parameter) does not.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "demo_run_config.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/tasks/pipeline.h"
#include "medvlmbench/train/head_checkpoint.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::unique_ptr<ContrastiveTowers> load(const std::string& name, const std::string& dir) {
  ModelSpec spec;
  spec.name = name;
  spec.model_path = fixture_path(dir);
  spec.class_texts = {"a", "b"};
  return make_contrastive_towers(spec);
}

// The trainable set the usages build: every LoRA parameter of the vision tower.
std::vector<std::string> lora_parameter_names(torch::nn::Module& tower) {
  std::vector<std::string> out;
  for (const auto& p : tower.named_parameters(true))
    if (nn::is_lora_name(p.key())) out.push_back(p.key());
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(LoraEmbeddingUsage, ClipVisionTowerAdaptsThePositionEmbeddingTimmDoesNot) {
  auto clip = load("CLIP", "models/tiny-clip");
  ASSERT_TRUE(clip);
  const size_t linears = nn::find_linears(clip->vision_tower()).size();
  EXPECT_EQ(train::apply_lora(clip->vision_tower(), nn::LoraConfig{}), static_cast<int>(linears) + 1);
  const auto names = lora_parameter_names(clip->vision_tower());
  EXPECT_TRUE(contains(names, "embeddings.position_embedding.lora_embedding_A"));
  EXPECT_TRUE(contains(names, "embeddings.position_embedding.lora_embedding_B"));
  EXPECT_EQ(names.size(), 2 * linears + 2);

  auto siglip = load("SigLIP", "models/tiny-siglip");
  ASSERT_TRUE(siglip);
  train::apply_lora(siglip->vision_tower(), nn::LoraConfig{});
  EXPECT_TRUE(contains(lora_parameter_names(siglip->vision_tower()), "embeddings.position_embedding.lora_embedding_A"));

  auto bmc = load("BioMedCLIP", "models/tiny-biomedclip");
  ASSERT_TRUE(bmc);
  const size_t bmc_linears = nn::find_linears(bmc->vision_tower()).size();
  EXPECT_EQ(train::apply_lora(bmc->vision_tower(), nn::LoraConfig{}), static_cast<int>(bmc_linears));
  for (const auto& n : lora_parameter_names(bmc->vision_tower()))
    EXPECT_EQ(n.find("lora_embedding"), std::string::npos) << n;
}

// PEFT adapts modules, so the module layout decides the adapters: timm's fused attn.qkv Linear gets
// ONE adapter of rank r over q, k and v (B is [3d, r]); HF SigLIP's pooling head is a
// torch.nn.MultiheadAttention whose in_proj_weight is no Linear (no adapter) but whose out_proj is.
TEST(LoraEmbeddingUsage, AdaptersFollowTheOriginalModuleLayout) {
  auto bmc = load("BioMedCLIP", "models/tiny-biomedclip");
  ASSERT_TRUE(bmc);
  train::apply_lora(bmc->vision_tower(), nn::LoraConfig{});
  int fused = 0;
  for (const auto& p : bmc->vision_tower().named_parameters(true)) {
    EXPECT_EQ(p.key().find("q_proj"), std::string::npos) << p.key();
    if (p.key().find("self_attn.qkv.lora_B") != std::string::npos) {
      ++fused;
      const int64_t d = p.value().size(0) / 3;
      EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{3 * d, nn::LoraConfig{}.r})) << p.key();
    }
  }
  int64_t layers = 0;
  for (const auto& p : bmc->vision_tower().named_parameters(true))
    if (p.key().find("self_attn.out_proj.weight") != std::string::npos) ++layers;
  EXPECT_GT(layers, 0);
  EXPECT_EQ(fused, layers);

  auto siglip = load("SigLIP", "models/tiny-siglip");
  ASSERT_TRUE(siglip);
  train::apply_lora(siglip->vision_tower(), nn::LoraConfig{});
  const auto names = lora_parameter_names(siglip->vision_tower());
  bool head_out = false;
  for (const auto& n : names) {
    EXPECT_EQ(n.find("in_proj"), std::string::npos) << n;
    EXPECT_EQ(n.find("head.attention.q_proj"), std::string::npos) << n;
    head_out |= n.find("head.attention.out_proj.lora_A") != std::string::npos;
  }
  EXPECT_TRUE(head_out);
}

RunConfig train_config(const std::string& usage, const std::string& out) {
  RunConfig c = demo_run_config("train", usage, out);
  c.num_train_epochs = 2;
  c.learning_rate = 1e-2;
  c.per_device_train_batch_size = 4;
  return c;
}

TEST(LoraEmbeddingUsage, EmbeddingAdapterTrainsSavesAndReloads) {
  for (const char* usage : {"img-lora-lp", "clip-img-lora"}) {
    TempDir tmp;
    RunOutcome run = run_train(train_config(usage, tmp.path()), {"train"});
    const std::string file = io::join_path(run.run_dir, train::kLoraWeightsFile);
    io::StateDict sd = io::open_safetensors(file);
    // A starts at zero (PEFT's init); a non-zero A after training shows it was in the optimiser.
    const at::Tensor a = sd.get("embeddings.position_embedding.lora_embedding_A", at::kFloat);
    const at::Tensor b = sd.get("embeddings.position_embedding.lora_embedding_B", at::kFloat);
    EXPECT_GT(a.abs().sum().item<double>(), 0.0) << usage;

    // Round trip into a fresh tower.
    auto fresh = load("CLIP", "models/tiny-clip");
    auto meta = io::read_json(io::join_path(run.run_dir, train::kHeadMetaFile));
    nn::LoraConfig cfg;
    cfg.r = meta["lora"]["r"].get<int>();
    cfg.alpha = meta["lora"]["alpha"].get<double>();
    EXPECT_EQ(meta["lora"]["layers"].get<int>(), static_cast<int>(nn::find_linears(fresh->vision_tower()).size()) + 1);
    train::apply_lora(fresh->vision_tower(), cfg);
    train::load_lora_weights(run.run_dir, fresh->vision_tower());
    auto embs = nn::find_embeddings(fresh->vision_tower());
    ASSERT_EQ(embs.size(), 1u);
    EXPECT_TRUE(at::equal(embs[0].second->lora_embedding_A.to(at::kFloat), a)) << usage;
    EXPECT_TRUE(at::equal(embs[0].second->lora_embedding_B.to(at::kFloat), b)) << usage;

    // Runs saved before the tower took transformers' names ("position_embedding.*" without the
    // "embeddings." level) still load, adapters and all.
    std::vector<std::pair<std::string, at::Tensor>> old_names;
    for (const auto& n : sd.names()) {
      const std::string p = "embeddings.position_embedding.";
      old_names.emplace_back(n.rfind(p, 0) == 0 ? n.substr(11) : n, sd.get(n, at::kFloat));
    }
    ASSERT_TRUE(std::any_of(old_names.begin(), old_names.end(),
                            [](const auto& t) { return t.first == "position_embedding.lora_embedding_A"; }));
    io::write_safetensors(file, old_names, {{"format", "pt"}});
    auto old = load("CLIP", "models/tiny-clip");
    train::apply_lora(old->vision_tower(), cfg);
    train::load_lora_weights(run.run_dir, old->vision_tower());
    EXPECT_TRUE(at::equal(nn::find_embeddings(old->vision_tower())[0].second->lora_embedding_A.to(at::kFloat), a))
        << usage;
  }
}

TEST(LoraEmbeddingUsage, HeadOnlyLeavesTheEmbeddingAdapterAtZero) {
  TempDir tmp;
  RunConfig c = train_config("img-lora-lp", tmp.path());
  c.lora_head_only = true;
  RunOutcome run = run_train(c, {"train"});
  io::StateDict sd = io::open_safetensors(io::join_path(run.run_dir, train::kLoraWeightsFile));
  EXPECT_EQ(sd.get("embeddings.position_embedding.lora_embedding_A", at::kFloat).abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace mvb::test
