#include "medvlmbench/models/internvl/config.h"

#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::internvl {
namespace {

namespace hf = nn::hf;

// image_size / patch_size: an int or [height, width] (transformers stores a pair); only squares run here.
int64_t square_size(const nlohmann::json& v, const char* key, int64_t fallback, const std::string& where) {
  if (!hf::has(v, key)) return fallback;
  const auto& s = v.at(key);
  if (s.is_array()) {
    MVB_CHECK(s.size() == 2 && s[0].is_number_integer() && s[1].is_number_integer(), where, ": ", key,
              " must be an integer or [height, width] (got ", s.dump(), ")");
    MVB_CHECK(s[0] == s[1], where, ": ", key, " ", s.dump(),
              " is not square; only square tiles are implemented (transformers interpolates the position "
              "embeddings for every non-square input)");
    return s[0].get<int64_t>();
  }
  return hf::get_int(v, key, fallback, where);
}

VisionConfig vision_from_json(const nlohmann::json& v, const std::string& where) {
  const std::string w = where + " vision_config";
  VisionConfig c;
  const std::string type = hf::get_string(v, "model_type", "internvl_vision", w);
  MVB_CHECK(type == "internvl_vision", w, ": model_type \"", type, "\" is not internvl_vision");
  c.hidden_size = hf::get_int(v, "hidden_size", 1024, w);
  c.num_layers = hf::get_int(v, "num_hidden_layers", 24, w);
  c.num_heads = hf::get_int(v, "num_attention_heads", 16, w);
  c.intermediate_size = hf::get_int(v, "intermediate_size", 4096, w);
  c.attention_bias = hf::get_bool(v, "attention_bias", false, w);
  c.use_qk_norm = hf::get_bool(v, "use_qk_norm", false, w);
  c.hidden_act = hf::get_string(v, "hidden_act", "gelu", w);
  const std::string norm = hf::get_string(v, "norm_type", "layer_norm", w);
  MVB_CHECK(norm == "layer_norm" || norm == "rms_norm", w, ": norm_type \"", norm,
            "\" is not implemented (layer_norm, rms_norm)");
  c.rms_norm = norm == "rms_norm";
  c.layer_norm_eps = hf::get_double(v, "layer_norm_eps", 1e-6, w);
  c.image_size = square_size(v, "image_size", 448, w);
  c.patch_size = square_size(v, "patch_size", 14, w);
  c.num_channels = hf::get_int(v, "num_channels", 3, w);
  c.use_absolute_position_embeddings = hf::get_bool(v, "use_absolute_position_embeddings", true, w);
  c.use_mask_token = hf::get_bool(v, "use_mask_token", false, w);
  c.use_mean_pooling = hf::get_bool(v, "use_mean_pooling", true, w);
  MVB_CHECK(c.num_layers > 0 && c.num_heads > 0 && c.hidden_size > 0 && c.hidden_size % c.num_heads == 0, w,
            ": hidden_size ", c.hidden_size, " must split into num_attention_heads ", c.num_heads);
  MVB_CHECK(c.patch_size > 0 && c.image_size > 0 && c.image_size % c.patch_size == 0, w, ": image_size ", c.image_size,
            " must be a multiple of patch_size ", c.patch_size);
  MVB_CHECK(c.num_channels == 3, w, ": num_channels ", c.num_channels, " is not implemented (RGB only)");
  return c;
}

}  // namespace

int64_t Config::tokens_per_tile() const {
  const int64_t side = vision.patches_per_side() / shuffle;
  return side * side;
}

Config Config::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, " is not a JSON object");
  const std::string type = hf::get_string(j, "model_type", "", where);
  MVB_CHECK(type == "internvl", where, ": model_type \"", type,
            "\" is not an InternVL -hf checkpoint (expected internvl; the original OpenGVLab/InternVL3-* folders "
            "with trust_remote_code are not supported, use the -hf conversion, e.g. OpenGVLab/InternVL3-8B-hf)");
  MVB_CHECK(hf::has(j, "vision_config") && j.at("vision_config").is_object(), where, " has no vision_config object");
  MVB_CHECK(hf::has(j, "text_config") && j.at("text_config").is_object(), where, " has no text_config object");
  Config c;
  c.vision = vision_from_json(j.at("vision_config"), where);
  c.text_config = j.at("text_config");
  if (!hf::has(c.text_config, "model_type")) c.text_config["model_type"] = "qwen2";  // InternVLConfig's default
  c.image_token_id = hf::get_int(j, "image_token_id", 151667, where);
  c.image_seq_length = hf::get_int(j, "image_seq_length", 256, where);
  c.downsample_ratio = hf::get_double(j, "downsample_ratio", 0.5, where);
  const double inv = 1.0 / c.downsample_ratio;
  c.shuffle = static_cast<int64_t>(std::llround(inv));
  MVB_CHECK(c.downsample_ratio > 0 && c.shuffle >= 1 && std::abs(inv - static_cast<double>(c.shuffle)) < 1e-9, where,
            ": downsample_ratio ", c.downsample_ratio,
            " is not implemented (pixel shuffle needs 1 / downsample_ratio to be a whole number, e.g. 0.5)");
  MVB_CHECK(c.vision.patches_per_side() % c.shuffle == 0, where, ": the ", c.vision.patches_per_side(),
            " patches per side do not divide by 1 / downsample_ratio = ", c.shuffle);
  c.projector_hidden_act = hf::get_string(j, "projector_hidden_act", "gelu", where);
  if (hf::has(j, "vision_feature_layer"))
    MVB_CHECK(!j.at("vision_feature_layer").is_array(), where,
              ": vision_feature_layer as a list of layers is not implemented (give one layer index)");
  c.vision_feature_layer = hf::get_int(j, "vision_feature_layer", -1, where);
  const int64_t states = c.vision.num_layers + 1;  // embeddings + each layer
  MVB_CHECK(c.vision_feature_layer >= -states && c.vision_feature_layer < states, where, ": vision_feature_layer ",
            c.vision_feature_layer, " is outside the ", states, " hidden states of the vision tower");
  const std::string strategy = hf::get_string(j, "vision_feature_select_strategy", "default", where);
  MVB_CHECK(strategy == "default", where, ": vision_feature_select_strategy \"", strategy,
            "\" is not implemented (\"default\" drops the class token; with \"full\" the features are no square "
            "grid and transformers' pixel shuffle fails too)");
  c.text_tie_word_embeddings = hf::get_bool(c.text_config, "tie_word_embeddings", false, where + " text_config");
  c.top_tie_word_embeddings = hf::get_bool(j, "tie_word_embeddings", true, where);
  MVB_CHECK(c.image_seq_length == c.tokens_per_tile(), where, ": image_seq_length ", c.image_seq_length,
            " differs from the ", c.tokens_per_tile(), " tokens a ", c.vision.image_size, " px tile gives (patch_size ",
            c.vision.patch_size, ", downsample_ratio ", c.downsample_ratio, ")");
  return c;
}

Config Config::load(const std::string& model_dir) {
  const std::string file = io::join_path(model_dir, "config.json");
  MVB_CHECK(io::exists(file), "missing ", file, "; --model_path must be an InternVL -hf checkpoint folder");
  return from_json(io::read_json(file), file);
}

}  // namespace mvb::internvl
