#include "medvlmbench/models/qwen2_vl/config.h"

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::qwen2_vl {
namespace {

// The one rule for config numbers (nn::hf): absent or null takes the default, 512.0 reads as 512, a
// fraction or a string where a number belongs is an error naming the file and the key.
using nn::hf::get_double;
using nn::hf::get_int;

VisionConfig vision_from_json(const nlohmann::json& v, Variant variant, const std::string& where) {
  const std::string w = where + " vision_config";
  VisionConfig c;
  c.variant = variant;
  c.depth = get_int(v, "depth", 32, w);
  c.num_heads = get_int(v, "num_heads", 16, w);
  c.in_channels = get_int(v, "in_channels", get_int(v, "in_chans", 3, w), w);
  c.patch_size = get_int(v, "patch_size", 14, w);
  c.temporal_patch_size = get_int(v, "temporal_patch_size", 2, w);
  c.spatial_merge_size = get_int(v, "spatial_merge_size", 2, w);
  if (v.contains("rope_parameters") && v["rope_parameters"].is_object())
    c.rope_theta = get_double(v["rope_parameters"], "rope_theta", 10000.0, w);
  if (variant == Variant::kQwen2VL) {
    // Qwen2VLVisionConfig: embed_dim is the ViT width, hidden_size the merger's output.
    c.hidden_size = get_int(v, "embed_dim", 1280, w);
    c.out_hidden_size = get_int(v, "hidden_size", 3584, w);
    c.intermediate_size = c.hidden_size * get_int(v, "mlp_ratio", 4, w);
    c.hidden_act = v.value("hidden_act", std::string("quick_gelu"));
  } else {
    c.hidden_size = get_int(v, "hidden_size", 1280, w);
    c.out_hidden_size = get_int(v, "out_hidden_size", 3584, w);
    c.intermediate_size = get_int(v, "intermediate_size", 3420, w);
    c.hidden_act = v.value("hidden_act", std::string("silu"));
    c.window_size = get_int(v, "window_size", 112, w);
    c.fullatt_block_indexes = v.value("fullatt_block_indexes", std::vector<int64_t>{7, 15, 23, 31});
    MVB_CHECK(c.window_size % (c.patch_size * c.spatial_merge_size) == 0, w, ": window_size ", c.window_size,
              " must be a multiple of patch_size * spatial_merge_size");
  }
  MVB_CHECK(c.depth > 0 && c.num_heads > 0 && c.hidden_size % c.num_heads == 0 && c.head_dim() % 4 == 0, w,
            ": the ViT width ", c.hidden_size, " must split into ", c.num_heads, " heads of a multiple of 4 channels");
  MVB_CHECK(c.hidden_act == "quick_gelu" || c.hidden_act == "silu" || c.hidden_act == "gelu", w,
            ": unsupported hidden_act \"", c.hidden_act, "\" (quick_gelu, silu, gelu)");
  return c;
}

}  // namespace

Config Config::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, " is not a JSON object");
  Config c;
  c.model_type = j.value("model_type", std::string());
  if (c.model_type == "qwen2_vl")
    c.variant = Variant::kQwen2VL;
  else if (c.model_type == "qwen2_5_vl")
    c.variant = Variant::kQwen25VL;
  else
    throw Error(where + ": model_type \"" + c.model_type +
                "\" is not a Qwen2-VL checkpoint (expected qwen2_vl or qwen2_5_vl)");
  MVB_CHECK(j.contains("vision_config") && j["vision_config"].is_object(), where,
            " has no vision_config object; is this a Qwen2-VL checkpoint folder?");
  c.vision = vision_from_json(j["vision_config"], c.variant, where);

  // transformers 5 nests the language model's keys in text_config; the Hub layout keeps them at the top.
  const bool nested = j.contains("text_config") && j["text_config"].is_object();
  nlohmann::json t = nested ? j["text_config"] : j;
  if (!nested) t.erase("vision_config");
  // One rope description for the decoder: rope_parameters {rope_type default, rope_theta, mrope_section}
  // (transformers maps the Hub's rope_scaling {"type": "mrope"} to that).
  nlohmann::json rope = t.contains("rope_parameters") && t["rope_parameters"].is_object() ? t["rope_parameters"]
                        : t.contains("rope_scaling") && t["rope_scaling"].is_object()     ? t["rope_scaling"]
                                                                                          : nlohmann::json::object();
  const std::string type = rope.value("rope_type", rope.value("type", std::string("default")));
  MVB_CHECK(type == "default" || type == "mrope", where, ": rope type \"", type,
            "\" is not supported for Qwen2-VL (default / mrope)");
  MVB_CHECK(rope.contains("mrope_section") && rope["mrope_section"].is_array(), where,
            ": the text config has no rope mrope_section (rope_scaling or rope_parameters)");
  nlohmann::json params = {{"rope_type", "default"},
                           {"rope_theta", rope.value("rope_theta", get_double(t, "rope_theta", 1000000.0, where))},
                           {"mrope_section", rope["mrope_section"]}};
  t.erase("rope_scaling");
  t.erase("rope_theta");
  t["rope_parameters"] = params;
  c.text_config = t;

  auto token = [&](const char* key, int64_t fallback) {
    return get_int(j, key, nested ? fallback : get_int(t, key, fallback, where), where);
  };
  c.image_token_id = token("image_token_id", 151655);
  c.video_token_id = token("video_token_id", 151656);
  c.vision_start_token_id = token("vision_start_token_id", 151652);
  c.vision_end_token_id = token("vision_end_token_id", 151653);
  // transformers 5 keeps tie_word_embeddings at the top and in text_config; either true ties.
  c.tie_word_embeddings = j.value("tie_word_embeddings", false) || t.value("tie_word_embeddings", false);
  c.text_config["tie_word_embeddings"] = c.tie_word_embeddings;
  const int64_t hidden = get_int(t, "hidden_size", -1, where);
  MVB_CHECK(hidden == c.vision.out_hidden_size, where, ": the merger writes ", c.vision.out_hidden_size,
            " channels but the language model's hidden_size is ", hidden);
  return c;
}

Config Config::load(const std::string& model_dir) {
  const std::string file = io::join_path(model_dir, "config.json");
  MVB_CHECK(io::exists(file), "missing ", file, "; --model_path must be a Qwen2-VL / Qwen2.5-VL checkpoint folder");
  return from_json(io::read_json(file), file);
}

}  // namespace mvb::qwen2_vl
