#include "medvlmbench/models/clip_configs.h"

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb {
namespace {

using nn::hf::get_bool;
using nn::hf::get_double;
using nn::hf::get_int;
using nn::hf::get_string;

// A sub-config of a composite config.json; absent means all defaults, as transformers does.
nlohmann::json section(const nlohmann::json& c, const std::string& key, const std::string& where) {
  for (const std::string& k : {key, key + "_dict"}) {  // *_dict: configs written by old transformers
    if (!nn::hf::has(c, k)) continue;
    MVB_CHECK(c.at(k).is_object(), where, ": ", k, " must be an object (got ", c.at(k).dump(), ")");
    return c.at(k);
  }
  return nlohmann::json::object();
}

nn::TransformerLayerOptions layer(int64_t dim, int64_t heads, int64_t mlp_dim, const std::string& act, double eps) {
  nn::TransformerLayerOptions o;
  o.dim = dim;
  o.heads = heads;
  o.mlp_dim = mlp_dim;
  o.act = nn::parse_activation(act);
  o.eps = eps;
  return o;
}

}  // namespace

ClipTextConfig ClipTextConfig::from_json(const nlohmann::json& j, const std::string& w) {
  ClipTextConfig c;
  c.vocab_size = get_int(j, "vocab_size", c.vocab_size, w);
  c.hidden_size = get_int(j, "hidden_size", c.hidden_size, w);
  c.intermediate_size = get_int(j, "intermediate_size", c.intermediate_size, w);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", c.num_hidden_layers, w);
  c.num_attention_heads = get_int(j, "num_attention_heads", c.num_attention_heads, w);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", c.max_position_embeddings, w);
  c.hidden_act = get_string(j, "hidden_act", c.hidden_act, w);
  c.layer_norm_eps = get_double(j, "layer_norm_eps", c.layer_norm_eps, w);
  c.eos_token_id = get_int(j, "eos_token_id", c.eos_token_id, w);
  return c;
}

nn::TextTransformerOptions ClipTextConfig::tower() const {
  nn::TextTransformerOptions o;
  o.vocab_size = vocab_size;
  o.max_positions = max_position_embeddings;
  o.num_layers = num_hidden_layers;
  o.layer = layer(hidden_size, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps);
  o.causal = true;
  o.pool = nn::TextTransformerOptions::Pool::kEos;
  o.eos_token_id = eos_token_id;
  return o;
}

ClipVisionConfig ClipVisionConfig::from_json(const nlohmann::json& j, const std::string& w) {
  ClipVisionConfig c;
  c.hidden_size = get_int(j, "hidden_size", c.hidden_size, w);
  c.intermediate_size = get_int(j, "intermediate_size", c.intermediate_size, w);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", c.num_hidden_layers, w);
  c.num_attention_heads = get_int(j, "num_attention_heads", c.num_attention_heads, w);
  c.num_channels = get_int(j, "num_channels", c.num_channels, w);
  c.image_size = get_int(j, "image_size", c.image_size, w);
  c.patch_size = get_int(j, "patch_size", c.patch_size, w);
  c.hidden_act = get_string(j, "hidden_act", c.hidden_act, w);
  c.layer_norm_eps = get_double(j, "layer_norm_eps", c.layer_norm_eps, w);
  return c;
}

nn::VisionTransformerOptions ClipVisionConfig::tower() const {
  nn::VisionTransformerOptions o;
  o.image_size = image_size;
  o.patch_size = patch_size;
  o.channels = num_channels;
  o.num_layers = num_hidden_layers;
  o.layer = layer(hidden_size, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps);
  o.class_token = true;
  o.patch_bias = false;
  o.pre_norm = true;
  o.final_norm = true;
  o.attention_pool = false;
  return o;
}

ClipConfig ClipConfig::read(const std::string& dir) {
  const std::string path = io::join_path(dir, "config.json");
  const nlohmann::json j = read_json_file(path);
  ClipConfig c;
  c.text_config = ClipTextConfig::from_json(section(j, "text_config", path), path + " text_config");
  c.vision_config = ClipVisionConfig::from_json(section(j, "vision_config", path), path + " vision_config");
  c.projection_dim = get_int(j, "projection_dim", c.projection_dim, path);
  return c;
}

SiglipTextConfig SiglipTextConfig::from_json(const nlohmann::json& j, const std::string& w) {
  SiglipTextConfig c;
  c.vocab_size = get_int(j, "vocab_size", c.vocab_size, w);
  c.hidden_size = get_int(j, "hidden_size", c.hidden_size, w);
  c.intermediate_size = get_int(j, "intermediate_size", c.intermediate_size, w);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", c.num_hidden_layers, w);
  c.num_attention_heads = get_int(j, "num_attention_heads", c.num_attention_heads, w);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", c.max_position_embeddings, w);
  c.hidden_act = get_string(j, "hidden_act", c.hidden_act, w);
  c.layer_norm_eps = get_double(j, "layer_norm_eps", c.layer_norm_eps, w);
  c.projection_size = get_int(j, "projection_size", c.hidden_size, w);
  return c;
}

nn::TextTransformerOptions SiglipTextConfig::tower() const {
  nn::TextTransformerOptions o;
  o.vocab_size = vocab_size;
  o.max_positions = max_position_embeddings;
  o.num_layers = num_hidden_layers;
  o.layer = layer(hidden_size, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps);
  o.causal = false;
  o.pool = nn::TextTransformerOptions::Pool::kLast;
  o.head_dim = projection_size;
  return o;
}

SiglipVisionConfig SiglipVisionConfig::from_json(const nlohmann::json& j, const std::string& w) {
  SiglipVisionConfig c;
  c.hidden_size = get_int(j, "hidden_size", c.hidden_size, w);
  c.intermediate_size = get_int(j, "intermediate_size", c.intermediate_size, w);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", c.num_hidden_layers, w);
  c.num_attention_heads = get_int(j, "num_attention_heads", c.num_attention_heads, w);
  c.num_channels = get_int(j, "num_channels", c.num_channels, w);
  c.image_size = get_int(j, "image_size", c.image_size, w);
  c.patch_size = get_int(j, "patch_size", c.patch_size, w);
  c.hidden_act = get_string(j, "hidden_act", c.hidden_act, w);
  c.layer_norm_eps = get_double(j, "layer_norm_eps", c.layer_norm_eps, w);
  c.vision_use_head = get_bool(j, "vision_use_head", c.vision_use_head, w);
  return c;
}

nn::VisionTransformerOptions SiglipVisionConfig::tower() const {
  nn::VisionTransformerOptions o;
  o.image_size = image_size;
  o.patch_size = patch_size;
  o.channels = num_channels;
  o.num_layers = num_hidden_layers;
  o.layer = layer(hidden_size, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps);
  o.class_token = false;
  o.patch_bias = true;
  o.pre_norm = false;
  o.final_norm = true;
  o.attention_pool = vision_use_head;
  return o;
}

SiglipConfig SiglipConfig::read(const std::string& dir) {
  const std::string path = io::join_path(dir, "config.json");
  const nlohmann::json j = read_json_file(path);
  SiglipConfig c;
  c.text_config = SiglipTextConfig::from_json(section(j, "text_config", path), path + " text_config");
  c.vision_config = SiglipVisionConfig::from_json(section(j, "vision_config", path), path + " vision_config");
  return c;
}

}  // namespace mvb
