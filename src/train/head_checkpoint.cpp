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
  if (lora_dropout >= 0) c.dropout = lora_dropout;  // < 0: not given
  return c;
}

namespace {

constexpr const char* kPeftPrefix = "base_model.model.";

// One adapted module: its PEFT key stem and its adapter tensors in PEFT's order (A, B).
struct AdaptedModule {
  std::string peft_name;
  bool embedding = false;
  at::Tensor a, b;
  nn::LoraConfig cfg;
};

// Every adapted Linear / Embedding of the tower, with its PEFT name; nullopt when one has none.
std::optional<std::vector<AdaptedModule>> adapted_modules(torch::nn::Module& tower, const PeftNameFn& names) {
  std::vector<AdaptedModule> out;
  for (auto& [path, lin] : nn::find_linears(tower)) {
    if (!lin->has_lora()) continue;
    const auto n = names(path);
    if (!n) return std::nullopt;
    out.push_back({*n, false, lin->lora_A, lin->lora_B, lin->lora});
  }
  for (auto& [path, emb] : nn::find_embeddings(tower)) {
    if (!emb->has_lora()) continue;
    const auto n = names(path);
    if (!n) return std::nullopt;
    out.push_back({*n, true, emb->lora_embedding_A, emb->lora_embedding_B, emb->lora});
  }
  return out;
}

std::string key_a(const AdaptedModule& m) {
  return kPeftPrefix + m.peft_name + (m.embedding ? ".lora_embedding_A" : ".lora_A.weight");
}
std::string key_b(const AdaptedModule& m) {
  return kPeftPrefix + m.peft_name + (m.embedding ? ".lora_embedding_B" : ".lora_B.weight");
}

}  // namespace

bool save_peft_adapter(const std::string& dir, torch::nn::Module& tower, const PeftNameFn& names) {
  const auto mods = adapted_modules(tower, names);
  if (!mods || mods->empty()) return false;
  const nn::LoraConfig cfg = mods->front().cfg;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& m : *mods) {
    MVB_CHECK(m.cfg.r == cfg.r && m.cfg.alpha == cfg.alpha && m.cfg.dropout == cfg.dropout,
              "the vision tower's adapters differ in their LoRA settings; PEFT's format holds one config");
    tensors.emplace_back(key_a(m), m.a.detach().to(at::kCPU, at::kFloat).contiguous());
    tensors.emplace_back(key_b(m), m.b.detach().to(at::kCPU, at::kFloat).contiguous());
    targets.push_back(m.peft_name);
  }
  io::create_directories(dir);
  io::write_safetensors(io::join_path(dir, kPeftWeightsFile), tensors, {{"format", "pt"}});
  // The keys PEFT's LoraConfig reads; the others keep PEFT's defaults (no DoRA, no rsLoRA, ...).
  const nlohmann::json config = {{"peft_type", "LORA"},
                                 {"task_type", nullptr},
                                 {"r", cfg.r},
                                 {"lora_alpha", cfg.alpha},
                                 {"lora_dropout", cfg.dropout},
                                 {"bias", "none"},
                                 {"target_modules", targets},
                                 {"fan_in_fan_out", false},
                                 {"use_rslora", false},
                                 {"use_dora", false},
                                 {"init_lora_weights", true},
                                 {"inference_mode", true},
                                 {"modules_to_save", nullptr},
                                 {"rank_pattern", nlohmann::json::object()},
                                 {"alpha_pattern", nlohmann::json::object()},
                                 {"base_model_name_or_path", nullptr}};
  io::write_json_atomic(io::join_path(dir, kPeftConfigFile), config);
  return true;
}

nn::LoraConfig read_peft_config(const std::string& dir) {
  const std::string p = io::join_path(dir, kPeftConfigFile);
  MVB_CHECK(io::exists(p), dir, " has no ", kPeftConfigFile, " (a PEFT adapter folder holds it)");
  const nlohmann::json c = io::read_json(p);
  auto is = [&](const char* key, const nlohmann::json& want) { return !c.contains(key) || c[key] == want; };
  auto empty = [&](const char* key) { return !c.contains(key) || c[key].is_null() || c[key].empty(); };
  MVB_CHECK(c.value("peft_type", std::string()) == "LORA", p, ": peft_type ",
            c.value("peft_type", nlohmann::json()).dump(), " is not LORA");
  MVB_CHECK(is("use_dora", false) && is("use_rslora", false) && is("fan_in_fan_out", false) && is("bias", "none") &&
                empty("rank_pattern") && empty("alpha_pattern") && empty("modules_to_save"),
            p,
            ": only plain LoRA is supported (no DoRA, rsLoRA, fan_in_fan_out, bias, rank/alpha patterns or "
            "modules_to_save)");
  nn::LoraConfig cfg;
  MVB_CHECK(c.contains("r") && c["r"].is_number_integer() && c["r"].get<int>() > 0, p,
            ": r must be a positive integer");
  cfg.r = c["r"].get<int>();
  cfg.alpha = c.value("lora_alpha", 8.0);  // PEFT's default lora_alpha
  cfg.dropout = c.value("lora_dropout", 0.0);
  return cfg;
}

int load_peft_adapter(const std::string& dir, torch::nn::Module& tower, const PeftNameFn& names) {
  const std::string p = io::join_path(dir, kPeftWeightsFile);
  MVB_CHECK(io::exists(p), dir, " has no ", kPeftWeightsFile, " (a PEFT adapter folder holds it)");
  const auto mods = adapted_modules(tower, names);
  MVB_CHECK(mods.has_value(), "this model's vision tower has no PEFT module names; it cannot load ", p);
  io::StateDict sd = io::open_safetensors(p);
  at::NoGradGuard no_grad;
  size_t used = 0;
  int loaded = 0;
  for (const auto& m : *mods) {
    const bool has_a = sd.contains(key_a(m)), has_b = sd.contains(key_b(m));
    MVB_CHECK(has_a == has_b, p, " holds only one of ", key_a(m), " and ", key_b(m));
    if (!has_a) {
      // Not a target of that adapter: PEFT's initial adapter, which changes nothing.
      (m.embedding ? m.a : m.b).zero_();
      continue;
    }
    for (const auto& [key, param] : {std::pair{key_a(m), m.a}, std::pair{key_b(m), m.b}}) {
      const at::Tensor t = sd.get(key);
      MVB_CHECK(t.sizes() == param.sizes(), p, ": '", key, "' has shape ", t.sizes(), ", the model's adapter ",
                param.sizes(), " (another r or another base model?)");
      param.copy_(t);
      ++used;
    }
    ++loaded;
  }
  if (used != sd.size())
    for (const auto& n : sd.names()) {
      bool known = false;
      for (const auto& m : *mods) known |= n == key_a(m) || n == key_b(m);
      MVB_CHECK(known, p, ": '", n, "' matches no adapted module of this model's vision tower");
    }
  return loaded;
}

void save_head(const std::string& run_dir, const nlohmann::json& meta, nn::Linear* head, torch::nn::Module* lora_tower,
               const PeftNameFn& peft_names) {
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
    if (peft_names && !save_peft_adapter(run_dir, *lora_tower, peft_names))
      spdlog::info("{}: no PEFT adapter files written (this model's vision tower has no PEFT module names)", run_dir);
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

void load_lora_weights(const std::string& run_dir, torch::nn::Module& lora_tower, const PeftNameFn& peft_names) {
  const std::string p = io::join_path(run_dir, kLoraWeightsFile);
  if (!io::exists(p) && peft_names && io::exists(io::join_path(run_dir, kPeftWeightsFile))) {
    load_peft_adapter(run_dir, lora_tower, peft_names);
    return;
  }
  MVB_CHECK(io::exists(p), run_dir, " has no ", kLoraWeightsFile, "; the training run did not finish");
  io::StateDict sd = io::open_safetensors(p);
  nn::TensorMap m = nn::read_weights(sd, nullptr);
  // Only adapter tensors are stored; base weights come from the base checkpoint.
  at::NoGradGuard no_grad;
  size_t loaded = 0;
  for (auto& param : lora_tower.named_parameters(true)) {
    if (!nn::is_lora_name(param.key())) continue;
    auto it = m.find(param.key());
    // Runs saved before the HF towers took transformers' module names kept the embedding tables one
    // level up ("position_embedding.*", now "embeddings.position_embedding.*").
    if (it == m.end() && param.key().rfind("embeddings.", 0) == 0) it = m.find(param.key().substr(11));
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
