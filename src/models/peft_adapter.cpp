#include "medvlmbench/models/peft_adapter.h"

#include <ATen/ATen.h>

#include <map>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/linear.h"

namespace mvb {
namespace {
constexpr const char* kPrefix = "base_model.model.";
}

bool is_peft_adapter_dir(const std::string& dir) { return io::exists(io::join_path(dir, "adapter_config.json")); }

int merge_peft_adapter(torch::nn::Module& root, const std::string& dir, const PeftModuleNameFn& names) {
  const std::string cfg_path = io::join_path(dir, "adapter_config.json");
  const nlohmann::json c = io::read_json(cfg_path);
  MVB_CHECK(c.value("peft_type", std::string()) == "LORA", cfg_path, ": peft_type is not LORA");
  MVB_CHECK(!c.value("use_dora", false) && !c.value("use_rslora", false) && !c.value("fan_in_fan_out", false), cfg_path,
            ": only plain LoRA adapters are supported (no DoRA, rsLoRA, fan_in_fan_out)");
  MVB_CHECK((!c.contains("rank_pattern") || c["rank_pattern"].empty()) &&
                (!c.contains("alpha_pattern") || c["alpha_pattern"].empty()),
            cfg_path, ": per-module rank/alpha patterns are not supported");
  nn::LoraConfig lcfg;
  lcfg.r = c.at("r").get<int>();
  lcfg.alpha = c.value("lora_alpha", 8.0);
  lcfg.dropout = 0;
  const std::string wpath = io::join_path(dir, "adapter_model.safetensors");
  MVB_CHECK(io::exists(wpath), dir, " has no adapter_model.safetensors (PEFT's adapter weights)");
  io::StateDict sd = io::open_safetensors(wpath);
  std::map<std::string, nn::Linear> by_peft;
  for (auto& [path, lin] : nn::find_linears(root))
    if (auto n = names(path)) by_peft.emplace(*n, lin);
  // Biases trained with bias="all" / "lora_only" (an adapted layer's under its base_layer), by the
  // published parameter name.
  std::map<std::string, at::Tensor> params;
  for (auto& p : root.named_parameters(true)) {
    const std::string& n = p.key();
    const auto dot = n.rfind('.');
    if (auto m = names(n.substr(0, dot))) params.emplace(*m + n.substr(dot), p.value());
  }
  std::map<std::string, int> seen;
  at::NoGradGuard no_grad;
  for (const auto& key : sd.names()) {
    MVB_CHECK(key.rfind(kPrefix, 0) == 0, wpath, ": key ", key, " is not a PEFT LoRA key (base_model.model.*)");
    std::string stem = key.substr(std::string(kPrefix).size());
    if (key.find("lora_") == std::string::npos && stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".bias") == 0) {
      std::string module = stem.substr(0, stem.size() - 5);
      const std::string base_layer = ".base_layer";
      if (module.size() > base_layer.size() &&
          module.compare(module.size() - base_layer.size(), std::string::npos, base_layer) == 0)
        module.resize(module.size() - base_layer.size());
      auto it = params.find(module + ".bias");
      MVB_CHECK(it != params.end(), wpath, ": ", key, " names no bias of this model");
      const at::Tensor v = sd.get(key);
      MVB_CHECK(v.sizes() == it->second.sizes(), wpath, ": ", key, " has shape ", v.sizes(), ", expected ",
                it->second.sizes());
      it->second.copy_(v);
      continue;
    }
    std::string which;
    for (const char* s : {".lora_A.weight", ".lora_B.weight"})
      if (stem.size() > std::string(s).size() &&
          stem.compare(stem.size() - std::string(s).size(), std::string::npos, s) == 0) {
        which = s;
        stem = stem.substr(0, stem.size() - which.size());
      }
    MVB_CHECK(!which.empty(), wpath, ": ", key,
              " is not a lora_A / lora_B weight or a bias (modules_to_save are not supported)");
    auto it = by_peft.find(stem);
    MVB_CHECK(it != by_peft.end(), wpath, ": ", key,
              " names no Linear layer of this model (is --model_base the model the adapter was trained on?)");
    nn::Linear lin = it->second;
    if (!lin->has_lora()) lin->enable_lora(lcfg);
    at::Tensor dst = which == ".lora_A.weight" ? lin->lora_A : lin->lora_B;
    const at::Tensor v = sd.get(key);
    MVB_CHECK(v.sizes() == dst.sizes(), wpath, ": ", key, " has shape ", v.sizes(), ", expected ", dst.sizes(), " (r ",
              lcfg.r, " in adapter_config.json)");
    dst.copy_(v);
    ++seen[stem];
  }
  for (const auto& [stem, n] : seen) {
    MVB_CHECK(n == 2, wpath, ": ", stem, " has only one of lora_A / lora_B");
    by_peft.at(stem)->merge_lora();
  }
  return static_cast<int>(seen.size());
}

int load_non_lora_trainables(torch::nn::Module& root, const std::string& dir, const PeftModuleNameFn& names) {
  const std::string path = io::join_path(dir, "non_lora_trainables.safetensors");
  if (!io::exists(path)) return 0;
  std::map<std::string, at::Tensor> by_peft;
  for (auto& p : root.named_parameters(true)) {
    const std::string& n = p.key();
    const auto dot = n.rfind('.');
    if (auto m = names(n.substr(0, dot))) by_peft.emplace(*m + n.substr(dot), p.value());
  }
  io::StateDict sd = io::open_safetensors(path);
  at::NoGradGuard no_grad;
  for (const auto& key : sd.names()) {
    auto it = by_peft.find(key);
    MVB_CHECK(it != by_peft.end(), path, ": ", key, " names no parameter of this model");
    const at::Tensor v = sd.get(key);
    MVB_CHECK(v.sizes() == it->second.sizes(), path, ": ", key, " has shape ", v.sizes(), ", expected ",
              it->second.sizes());
    it->second.copy_(v);
  }
  return static_cast<int>(sd.names().size());
}

}  // namespace mvb
