// The typed config.json of Qwen2-VL and Qwen2.5-VL checkpoints (Qwen2VLForConditionalGeneration,
// Qwen2_5_VLForConditionalGeneration; Lingshu is the latter). Two layouts are read:
//   - the Hub checkpoints (transformers 4.4x wrote them): text keys at the top level, rope_theta +
//     rope_scaling {"type": "mrope", "mrope_section"}, vision_config with in_chans;
//   - transformers 5 save_pretrained: text_config / vision_config objects, rope_parameters.
// Defaults for absent keys are transformers' (Qwen2VLVisionConfig, Qwen2_5_VLVisionConfig).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::qwen2_vl {

enum class Variant { kQwen2VL, kQwen25VL };

struct VisionConfig {
  Variant variant = Variant::kQwen2VL;
  int64_t depth = 32;
  int64_t hidden_size = 1280;  // the ViT width (Qwen2-VL's embed_dim)
  int64_t num_heads = 16;
  int64_t intermediate_size = 5120;  // MLP width (Qwen2-VL: embed_dim * mlp_ratio)
  int64_t out_hidden_size = 3584;    // the merger's output = the language model's width
  int64_t in_channels = 3;
  int64_t patch_size = 14;
  int64_t temporal_patch_size = 2;
  int64_t spatial_merge_size = 2;
  std::string hidden_act = "quick_gelu";  // Qwen2-VL quick_gelu; Qwen2.5-VL silu (SwiGLU)
  double rope_theta = 10000.0;
  // Qwen2.5-VL window attention: windows of window_size pixels, except the full-attention blocks.
  int64_t window_size = 0;
  std::vector<int64_t> fullatt_block_indexes;
  int64_t head_dim() const { return hidden_size / num_heads; }
};

struct Config {
  Variant variant = Variant::kQwen2VL;
  std::string model_type;
  VisionConfig vision;
  // The language model's keys, as nn::decoder_options_from_config reads them (text_config, or the
  // top-level object of the Hub layout), with rope_parameters filled in.
  nlohmann::json text_config;
  int64_t image_token_id = 151655;
  int64_t video_token_id = 151656;
  int64_t vision_start_token_id = 151652;
  int64_t vision_end_token_id = 151653;
  bool tie_word_embeddings = false;

  // `where` names the file in errors.
  static Config from_json(const nlohmann::json& j, const std::string& where);
  static Config load(const std::string& model_dir);  // <model_dir>/config.json
};

}  // namespace mvb::qwen2_vl
