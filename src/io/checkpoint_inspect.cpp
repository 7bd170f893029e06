#include "medvlmbench/io/checkpoint_inspect.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"

namespace fs = std::filesystem;

namespace mvb::io {

nlohmann::json CheckpointSummary::to_json() const {
  return {{"path", path},
          {"architecture", architecture},
          {"weight_files", weight_files},
          {"tokenizer_files", tokenizer_files},
          {"problems", problems},
          {"parameters", parameters},
          {"tensors", tensors},
          {"model_type", model_type},
          {"has_preprocessor_config", has_preprocessor_config},
          {"dtypes", dtypes}};
}

std::string architecture_from_weight_names(const std::vector<std::string>& names) {
  auto any = [&](const char* needle) {
    for (const auto& n : names)
      if (n.find(needle) != std::string::npos) return true;
    return false;
  };
  // Order matters: composite models contain their towers' names.
  if (any("vision_tower") && any("mm_projector")) return "llava (from weight names)";
  if (any("visual.merger") || any("visual.blocks.")) return "qwen2_vl (from weight names)";
  if (any("visual.trunk.") || any("text.transformer.")) return "open_clip timm/hf towers (from weight names)";
  if (any("visual.transformer.resblocks")) return "open_clip CLIP (from weight names)";
  if (any("vision_model.encoder.layers") && any("text_model.encoder.layers")) return "CLIP/SigLIP (from weight names)";
  if (any("vision_model.encoder.layers")) return "vision transformer (from weight names)";
  if (any("bert.encoder.layer") || any("encoder.layer.0.attention")) return "BERT (from weight names)";
  if (any("model.layers.0.self_attn")) return "decoder-only LM (from weight names)";
  return "";
}

CheckpointSummary inspect_checkpoint(const std::string& dir) {
  CheckpointSummary s;
  s.path = dir;
  MVB_CHECK(is_directory(dir), "--model_path ", dir, " is not a folder; point it at a checkpoint folder");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    if (ends_with(f, ".safetensors") || ends_with(f, ".bin") || ends_with(f, ".pt") || ends_with(f, ".pth") ||
        ends_with(f, ".ckpt") || ends_with(f, ".index.json"))
      s.weight_files.push_back(f);
    if (f == "tokenizer.json" || f == "tokenizer.model" || f == "vocab.txt" || f == "vocab.json" || f == "merges.txt")
      s.tokenizer_files.push_back(f);
    if (f == "preprocessor_config.json") s.has_preprocessor_config = true;
  }
  const std::string cfg_path = join_path(dir, "config.json");
  const std::string oc_path = join_path(dir, "open_clip_config.json");
  // Releases that pair a vision config with a text tower's config.json: the config.json alone would
  // name only the text tower (BertModel), so the folder's marker file decides.
  if (exists(join_path(dir, "swin_config.json"))) {
    s.architecture = "MedCLIP (Swin vision: swin_config.json; BERT text: config.json)";
    s.model_type = "medclip";
  } else if (exists(join_path(dir, "pmc_clip.json"))) {
    s.architecture = "PMC-CLIP (ResNet vision + BERT text: pmc_clip.json)";
    s.model_type = "pmc_clip";
  } else if (exists(join_path(dir, "xraygpt_pretrained1.pth")) || exists(join_path(dir, "xraygpt_config.json"))) {
    // XrayGPT's release (models/README.md): MiniGPT-4 / LAVIS .pth files beside a Vicuna folder.
    s.architecture = "XrayGPT (MiniGPT-4 .pth files + Vicuna_Radiology_fp16/)";
    s.model_type = "xraygpt";
  } else if (exists(cfg_path)) {
    try {
      const auto cfg = read_json(cfg_path);
      s.model_type = cfg.value("model_type", "");
      if (cfg.contains("architectures") && cfg["architectures"].is_array() && !cfg["architectures"].empty())
        s.architecture = cfg["architectures"][0].get<std::string>();
      else
        s.architecture = s.model_type;
      if (s.architecture.empty()) s.problems.push_back("config.json names no architectures/model_type");
    } catch (const std::exception& e) {
      s.problems.push_back(e.what());
    }
  } else if (exists(oc_path)) {
    s.architecture = "open_clip";
    try {
      const auto oc = read_json(oc_path);
      if (oc.contains("model_cfg") && oc["model_cfg"].contains("vision_cfg")) {
        const auto& v = oc["model_cfg"]["vision_cfg"];
        if (v.contains("timm_model_name")) s.architecture += " (" + v["timm_model_name"].get<std::string>() + ")";
      }
    } catch (const std::exception& e) {
      s.problems.push_back(e.what());
    }
  }
  if (s.weight_files.empty()) {
    s.problems.push_back("no weights (*.safetensors, pytorch_model.bin, *.pt) in " + dir);
  } else {
    // Headers only: safetensors JSON headers and torch.save pickles, never tensor data.
    try {
      // PMC-CLIP ships one file per tower (image encoder, text encoder, projection): all of them
      // together are the model. Elsewhere several files without an index are ambiguous (open() says so).
      std::vector<std::string> sources = {dir};
      if (s.model_type == "pmc_clip" || s.model_type == "xraygpt") {
        sources.clear();
        for (const auto& f : s.weight_files)
          if (s.model_type == "pmc_clip" || ends_with(f, ".pth")) sources.push_back(join_path(dir, f));
      }
      // XrayGPT's LLaMA is a sub-folder (its tokenizer too); the model build names any file missing.
      const std::string vicuna = join_path(dir, "Vicuna_Radiology_fp16");
      if (s.model_type == "xraygpt" && is_directory(vicuna)) {
        sources.push_back(vicuna);
        for (const auto& e : fs::directory_iterator(vicuna))
          if (e.path().filename() == "tokenizer.model")
            s.tokenizer_files.push_back("Vicuna_Radiology_fp16/tokenizer.model");
      }
      s.parameters = 0;
      s.tensors = 0;
      for (const auto& src : sources) {
        const StateDict sd = StateDict::open(src);
        s.parameters += sd.num_parameters();
        s.tensors += static_cast<int64_t>(sd.size());
        for (const auto& [dt, n] : sd.dtype_counts()) s.dtypes[dt] = s.dtypes.value(dt, int64_t{0}) + n;
        if (s.architecture.empty()) s.architecture = architecture_from_weight_names(sd.names());
      }
    } catch (const std::exception& e) {
      s.parameters = s.tensors = -1;
      s.problems.push_back(e.what());
    }
  }
  if (s.architecture.empty() && !exists(cfg_path))
    s.problems.push_back("no config.json (or open_clip_config.json) in " + dir +
                         ", and the architecture cannot be told from the weight names");
  // Generative models need a tokenizer; vision towers from HF need their processor config.
  const bool hf_multimodal = s.model_type.find("llava") != std::string::npos ||
                             s.model_type.find("qwen") != std::string::npos || s.model_type == "clip" ||
                             s.model_type == "siglip" || s.model_type == "blip-2";
  if (hf_multimodal && s.tokenizer_files.empty())
    s.problems.push_back("no tokenizer (tokenizer.json / tokenizer.model / vocab.json) in " + dir);
  if (hf_multimodal && !s.has_preprocessor_config)
    s.problems.push_back("no preprocessor_config.json in " + dir + " (image size, mean and std come from it)");
  return s;
}

std::string format_checkpoint_summary(const nlohmann::json& j) {
  std::ostringstream os;
  os << "model folder " << j.value("path", "") << ": "
     << (j.value("problems", nlohmann::json::array()).empty() ? "OK" : "PROBLEMS") << "\n";
  os << "  architecture: " << (j.value("architecture", "").empty() ? "unknown" : j.value("architecture", "")) << "\n";
  if (j.value("parameters", int64_t{-1}) >= 0) {
    const auto n = j["parameters"].get<int64_t>();
    os << "  parameters: " << n;
    if (n >= 1000000) os << " (" << (n / 100000) / 10.0 << "M)";
    if (j.value("tensors", int64_t{-1}) >= 0) os << " in " << j["tensors"].get<int64_t>() << " tensors";
    os << "\n";
  }
  if (!j.value("dtypes", nlohmann::json::object()).empty()) os << "  dtypes: " << j["dtypes"].dump() << "\n";
  os << "  weights: " << join(j.value("weight_files", std::vector<std::string>{}), ", ") << "\n";
  os << "  tokenizer: " << join(j.value("tokenizer_files", std::vector<std::string>{}), ", ") << "\n";
  for (const auto& p : j.value("problems", nlohmann::json::array()))
    os << "  problem: " << p.get<std::string>() << "\n";
  return os.str();
}

}  // namespace mvb::io
