// The typed config.json of InternVL3 "-hf" checkpoints (InternVLForConditionalGeneration, e.g.
// OpenGVLab/InternVL3-8B-hf): model_type internvl with a vision_config (internvl_vision: InternViT)
// and a text_config (qwen2, or llama for InternVL3-9B) that nn::decoder_options_from_config reads.
// Defaults for absent keys are transformers' (InternVLConfig, InternVLVisionConfig). Options this
// port does not implement (a list of vision_feature_layer, vision_feature_select_strategy "full", a
// downsample_ratio whose inverse is not a whole number, non-square images) are refused naming the key.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mvb::internvl {

struct VisionConfig {
  int64_t hidden_size = 1024;
  int64_t num_layers = 24;  // num_hidden_layers
  int64_t num_heads = 16;   // num_attention_heads
  int64_t intermediate_size = 4096;
  bool attention_bias = false;
  bool use_qk_norm = false;         // RMSNorm (eps 1e-6) over the whole q and k projections
  std::string hidden_act = "gelu";  // the MLP's activation
  bool rms_norm = false;            // norm_type "rms_norm" (InternViT-6B) instead of "layer_norm"
  double layer_norm_eps = 1e-6;
  int64_t image_size = 448;  // square tiles (image_size [h, w] with h == w)
  int64_t patch_size = 14;
  int64_t num_channels = 3;
  bool use_absolute_position_embeddings = true;
  bool use_mask_token = false;   // a mask_token parameter exists (unused at inference)
  bool use_mean_pooling = true;  // false: a final layernorm over the last hidden state
  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t patches_per_side() const { return image_size / patch_size; }
};

struct Config {
  VisionConfig vision;
  nlohmann::json text_config;       // as nn::decoder_options_from_config reads it
  int64_t image_token_id = 151667;  // <IMG_CONTEXT>
  int64_t image_seq_length = 256;   // tokens per tile after pixel shuffle
  double downsample_ratio = 0.5;
  int64_t shuffle = 2;  // 1 / downsample_ratio: channels grow by shuffle^2
  std::string projector_hidden_act = "gelu";
  int64_t vision_feature_layer = -1;  // -1: last_hidden_state; else hidden_states[k] (0 = embeddings)
  // transformers 4.53.1 ties lm_head to embed_tokens when text_config says so; transformers 5 reads the
  // top-level key. Both are kept; the model decides with the checkpoint's tensors (model.cpp).
  bool text_tie_word_embeddings = false;
  bool top_tie_word_embeddings = true;

  // Image tokens one tile gives: (image_size / patch_size)^2 / shuffle^2.
  int64_t tokens_per_tile() const;

  // `where` names the file in errors.
  static Config from_json(const nlohmann::json& j, const std::string& where);
  static Config load(const std::string& model_dir);  // <model_dir>/config.json
};

}  // namespace mvb::internvl
