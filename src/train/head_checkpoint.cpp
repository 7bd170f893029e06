#include "medvlmbench/train/head_checkpoint.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::train {

int apply_lora(torch::nn::Module& tower, const nn::LoraConfig& cfg) {
  int n = 0;
  for (auto& [name, lin] : nn::find_linears(tower)) {
    lin->enable_lora(cfg);
    ++n;
  }
  // PEFT also wraps the tower's nn.Embedding tables (HF CLIP / SigLIP position embeddings).
  for (auto& [name, emb] : nn::find_embeddings(tower))
    if (emb->peft_target) {
      emb->enable_lora(cfg);
      ++n;
    }
  MVB_CHECK(n > 0, "the vision tower has no linear layers to adapt with LoRA");
  return n;
}

nn::LoraConfig diagnosis_lora_config(int lora_r, int lora_alpha, double lora_dropout) {
  nn::LoraConfig c;  // r 8, alpha 32, dropout 0.05: the reference's diagnosis LoRA
  if (lora_r != 128) c.r = lora_r;
  if (lora_alpha != 256) c.alpha = lora_alpha;
  c.dropout = lora_dropout;
  return c;
}

void save_head(const std::string& run_dir, const nlohmann::json& meta, nn::Linear* head,
               torch::nn::Module* lora_tower) {
  io::create_directories(run_dir);
  if (head)
    io::write_safetensors(io::join_path(run_dir, kHeadWeightsFile),
                          {{"weight", (*head)->weight.detach().to(at::kCPU, at::kFloat)},
                           {"bias", (*head)->bias.detach().to(at::kCPU, at::kFloat)}},
                          {{"format", "pt"}});
  if (lora_tower) {
    auto tensors = nn::named_tensors(*lora_tower, nn::is_lora_name);
    for (auto& t : tensors) t.second = t.second.to(at::kCPU, at::kFloat);
    io::write_safetensors(io::join_path(run_dir, kLoraWeightsFile), tensors, {{"format", "pt"}});
  }
  io::write_json_atomic(io::join_path(run_dir, kHeadMetaFile), meta);
}

nlohmann::json load_head_meta(const std::string& run_dir) {
  const std::string p = io::join_path(run_dir, kHeadMetaFile);
  MVB_CHECK(io::exists(p), "--model_path ", run_dir, " has no ", kHeadMetaFile,
            "; give the run folder printed by `medvlmbench train --usage lp|img-lora-lp|clip-img-lora`");
  return io::read_json(p);
}

nn::Linear load_head_weights(const std::string& run_dir) {
  const std::string p = io::join_path(run_dir, kHeadWeightsFile);
  MVB_CHECK(io::exists(p), run_dir, " has no ", kHeadWeightsFile, "; the training run did not finish");
  io::StateDict sd = io::open_safetensors(p);
  at::Tensor w = sd.get("weight", at::kFloat), b = sd.get("bias", at::kFloat);
  MVB_CHECK(w.dim() == 2 && b.dim() == 1 && b.size(0) == w.size(0), p, " holds a malformed head: weight ", w.sizes(),
            ", bias ", b.sizes());
  nn::Linear head(w.size(1), w.size(0), true);
  nn::assign_weights(*head, {{"weight", w}, {"bias", b}}, p);
  return head;
}

void load_lora_weights(const std::string& run_dir, torch::nn::Module& lora_tower) {
  const std::string p = io::join_path(run_dir, kLoraWeightsFile);
  MVB_CHECK(io::exists(p), run_dir, " has no ", kLoraWeightsFile, "; the training run did not finish");
  io::StateDict sd = io::open_safetensors(p);
  nn::TensorMap m = nn::read_weights(sd, nullptr);
  // Only adapter tensors are stored; base weights come from the base checkpoint.
  at::NoGradGuard no_grad;
  size_t loaded = 0;
  for (auto& param : lora_tower.named_parameters(true)) {
    if (!nn::is_lora_name(param.key())) continue;
    auto it = m.find(param.key());
    // Runs saved before embedding tables carried adapters lack them; a missing one is PEFT's initial
    // (zero) change, so the tower computes exactly what it computed when that run was saved.
    if (it == m.end() && param.key().find("lora_embedding_") != std::string::npos) {
      spdlog::warn("{} has no '{}' (saved before embedding adapters existed); it stays zero", p, param.key());
      if (param.key().find("lora_embedding_A") != std::string::npos) param.value().zero_();
      continue;
    }
    MVB_CHECK(it != m.end(), p, " lacks adapter '", param.key(), "'; was it trained with another LoRA config?");
    MVB_CHECK(it->second.sizes() == param.value().sizes(), p, ": adapter '", param.key(), "' has shape ",
              it->second.sizes(), ", expected ", param.value().sizes());
    param.value().copy_(it->second);
    ++loaded;
  }
  MVB_CHECK(loaded == m.size(), p, " holds ", m.size(), " adapters but the model has ", loaded);
}

}  // namespace mvb::train
