// `medvlmbench check --model_path DIR`: what a checkpoint folder holds and what is missing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::io {

struct CheckpointSummary {
  std::string path;
  std::string architecture;  // from config.json (architectures[0] / model_type), open_clip config, or weight names
  std::string model_type;    // config.json model_type (e.g. "llava", "clip", "qwen2_vl")
  std::vector<std::string> weight_files;
  std::vector<std::string> tokenizer_files;
  std::vector<std::string> problems;                 // missing files, unreadable config
  int64_t parameters = -1;                           // when the weight headers could be read
  nlohmann::json dtypes = nlohmann::json::object();  // dtype -> tensor count
  int64_t tensors = -1;
  bool has_preprocessor_config = false;
  nlohmann::json to_json() const;
};

// Reads config.json and the weight headers (safetensors headers / the torch.save pickle; no tensor
// data) to report the architecture, parameter count and dtypes; anything missing or unreadable is
// listed in problems rather than thrown, so one run reports every problem.
CheckpointSummary inspect_checkpoint(const std::string& dir);
// Guesses the architecture family from tensor names when there is no config.json.
std::string architecture_from_weight_names(const std::vector<std::string>& names);
std::string format_checkpoint_summary(const nlohmann::json& summary);

}  // namespace mvb::io
