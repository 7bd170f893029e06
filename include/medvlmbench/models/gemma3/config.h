// The typed config.json of Gemma3ForConditionalGeneration checkpoints (google/gemma-3-4b-it,
// google/medgemma-4b-it): a SigLIP vision_config (siglip_vision_model), a gemma3_text text_config, and
// the image tokens. Both layouts are read: the published one (transformers 4.50 wrote it: rope_theta,
// rope_local_base_freq, rope_scaling, sliding_window_pattern) and transformers 5 save_pretrained's
// (rope_parameters per layer type, layer_types). Absent keys take transformers' defaults
// (Gemma3Config, Gemma3TextConfig, SiglipVisionConfig); options we do not implement are refused by name.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/models/clip_configs.h"
#include "medvlmbench/nn/decoder.h"

namespace mvb::gemma3 {

struct Config {
  SiglipVisionConfig vision;
  nn::DecoderOptions text;     // the Gemma3 decoder, from text_config
  nlohmann::json text_config;  // as read, for describe()
  int64_t mm_tokens_per_image = 256;
  int64_t boi_token_id = 255999;    // <start_of_image>
  int64_t eoi_token_id = 256000;    // <end_of_image>
  int64_t image_token_id = 262144;  // <image_soft_token>
  // Derived: SigLIP patches per side, soft tokens per side, and the average-pooling kernel between them.
  int64_t patches_per_side() const { return vision.image_size / vision.patch_size; }
  int64_t tokens_per_side() const;
  int64_t pool_kernel() const { return patches_per_side() / tokens_per_side(); }

  // `where` names the file in errors.
  static Config from_json(const nlohmann::json& j, const std::string& where);
  static Config load(const std::string& model_dir);  // <model_dir>/config.json
};

}  // namespace mvb::gemma3
