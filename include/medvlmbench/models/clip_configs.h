// Typed config.json of the Hugging Face contrastive towers: transformers' CLIPTextConfig,
// CLIPVisionConfig, CLIPConfig (configuration_clip.py) and SiglipTextConfig, SiglipVisionConfig,
// SiglipConfig (configuration_siglip.py), with their field names and class defaults. Each is read in
// one place (clip_configs.cpp): an absent or null key takes the default, as in transformers; a value
// of the wrong type is an mvb::Error naming the file and the key.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/nn/text_transformer.h"
#include "medvlmbench/nn/vit.h"

namespace mvb {

struct ClipTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;
  int64_t eos_token_id = 49407;
  // `where` names the file and section in errors ("<dir>/config.json text_config").
  static ClipTextConfig from_json(const nlohmann::json& j, const std::string& where);
  nn::TextTransformerOptions tower() const;  // causal, pooled at the end-of-text token
};

struct ClipVisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;
  static ClipVisionConfig from_json(const nlohmann::json& j, const std::string& where);
  nn::VisionTransformerOptions tower() const;  // class token, bias-free patch conv, pre_layrnorm
};

struct ClipConfig {
  ClipTextConfig text_config;
  ClipVisionConfig vision_config;
  int64_t projection_dim = 512;
  // Reads <dir>/config.json; text_config_dict / vision_config_dict (old transformers) are accepted too.
  static ClipConfig read(const std::string& checkpoint_dir);
};

struct SiglipTextConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 64;
  std::string hidden_act = "gelu_pytorch_tanh";
  double layer_norm_eps = 1e-6;
  int64_t projection_size = 0;  // transformers: None means hidden_size; from_json resolves it
  static SiglipTextConfig from_json(const nlohmann::json& j, const std::string& where);
  nn::TextTransformerOptions tower() const;  // bidirectional, pooled at the last position, then head
};

struct SiglipVisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 16;
  std::string hidden_act = "gelu_pytorch_tanh";
  double layer_norm_eps = 1e-6;
  bool vision_use_head = true;
  static SiglipVisionConfig from_json(const nlohmann::json& j, const std::string& where);
  nn::VisionTransformerOptions tower() const;  // no class token, patch conv with bias, pooling head
};

struct SiglipConfig {
  SiglipTextConfig text_config;
  SiglipVisionConfig vision_config;
  static SiglipConfig read(const std::string& checkpoint_dir);
};

}  // namespace mvb
