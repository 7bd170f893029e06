#include "medvlmbench/io/checkpoint_inspect.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace fs = std::filesystem;

namespace mvb::io {

nlohmann::json CheckpointSummary::to_json() const {
  return {{"path", path},
          {"architecture", architecture},
          {"weight_files", weight_files},
          {"tokenizer_files", tokenizer_files},
          {"problems", problems},
          {"parameters", parameters},
          {"dtypes", dtypes}};
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
    if (ends_with(f, ".safetensors") || ends_with(f, ".bin") || ends_with(f, ".pt") || ends_with(f, ".pth"))
      s.weight_files.push_back(f);
    if (f == "tokenizer.json" || f == "tokenizer.model" || f == "vocab.txt" || f == "vocab.json" || f == "merges.txt")
      s.tokenizer_files.push_back(f);
  }
  const std::string cfg_path = join_path(dir, "config.json");
  const std::string oc_path = join_path(dir, "open_clip_config.json");
  if (exists(cfg_path)) {
    try {
      const auto cfg = read_json(cfg_path);
      if (cfg.contains("architectures") && cfg["architectures"].is_array() && !cfg["architectures"].empty())
        s.architecture = cfg["architectures"][0].get<std::string>();
      else
        s.architecture = cfg.value("model_type", "");
      if (s.architecture.empty()) s.problems.push_back("config.json names no architectures/model_type");
    } catch (const Error& e) {
      s.problems.push_back(e.what());
    }
  } else if (exists(oc_path)) {
    s.architecture = "open_clip";
  } else {
    s.problems.push_back("no config.json (or open_clip_config.json) in " + dir);
  }
  if (s.weight_files.empty()) s.problems.push_back("no weights (*.safetensors, pytorch_model.bin, *.pt) in " + dir);
  return s;
}

std::string format_checkpoint_summary(const nlohmann::json& j) {
  std::ostringstream os;
  os << "model folder " << j.value("path", "") << ": "
     << (j.value("problems", nlohmann::json::array()).empty() ? "OK" : "PROBLEMS") << "\n";
  os << "  architecture: " << (j.value("architecture", "").empty() ? "unknown" : j.value("architecture", "")) << "\n";
  if (j.value("parameters", int64_t{-1}) >= 0) os << "  parameters: " << j["parameters"].get<int64_t>() << "\n";
  if (!j.value("dtypes", nlohmann::json::object()).empty()) os << "  dtypes: " << j["dtypes"].dump() << "\n";
  os << "  weights: " << join(j.value("weight_files", std::vector<std::string>{}), ", ") << "\n";
  os << "  tokenizer: " << join(j.value("tokenizer_files", std::vector<std::string>{}), ", ") << "\n";
  for (const auto& p : j.value("problems", nlohmann::json::array()))
    os << "  problem: " << p.get<std::string>() << "\n";
  return os.str();
}

}  // namespace mvb::io
