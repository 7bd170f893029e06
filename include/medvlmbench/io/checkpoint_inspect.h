// `medvlmbench check --model_path DIR`: what a checkpoint folder holds and what is missing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::io {

struct CheckpointSummary {
  std::string path;
  std::string architecture;  // from config.json (architectures[0] / model_type), open_clip config ...
  std::vector<std::string> weight_files;
  std::vector<std::string> tokenizer_files;
  std::vector<std::string> problems;                 // missing files, unreadable config
  int64_t parameters = -1;                           // when the weight headers could be read
  nlohmann::json dtypes = nlohmann::json::object();  // dtype -> tensor count
  nlohmann::json to_json() const;
};

CheckpointSummary inspect_checkpoint(const std::string& dir);
std::string format_checkpoint_summary(const nlohmann::json& summary);

}  // namespace mvb::io
