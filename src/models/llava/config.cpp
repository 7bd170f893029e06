// LLaVA's config.json in both layouts (see llava.h), and the vision tower folder of the original one.
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/clip_configs.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/llava/llava.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb::llava {
namespace {

// transformers' CLIPVisionConfig (defaults for absent keys) as our ViT options.
nn::VisionTransformerOptions clip_vision_options(const nlohmann::json& v, const std::string& where) {
  return ClipVisionConfig::from_json(v, where).tower();
}

// The select layer as an int (transformers also allows a list of layers, which LLaVA-1.5 never uses).
int64_t select_layer(const nlohmann::json& cfg, const char* key, const std::string& where) {
  if (!cfg.contains(key)) return -2;
  MVB_CHECK(cfg[key].is_number_integer(), where, ": \"", key, "\" must be one integer layer index (got ",
            cfg[key].dump(), "); multi-layer vision features are not supported");
  return cfg[key].get<int64_t>();
}

// The CLIP preprocessing of a folder's preprocessor_config.json; the pad step is the processor's.
ImageTransform clip_transform(const std::string& folder, bool* do_pad) {
  const std::string file = io::join_path(folder, "preprocessor_config.json");
  MVB_CHECK(io::exists(file), "missing ", file,
            "; LLaVA needs the CLIP image processor config (preprocessor_config.json) of its vision tower");
  ImageTransform t = load_image_transform(file);
  if (do_pad) *do_pad = t.pad_to_square;
  t.pad_to_square = false;
  return t;
}

}  // namespace

std::string resolve_vision_tower(const std::string& model_dir, const std::string& tower_id) {
  MVB_CHECK(!tower_id.empty(), io::join_path(model_dir, "config.json"), ": \"mm_vision_tower\" is empty");
  std::vector<std::string> tried;
  auto usable = [&](const std::string& p) {
    tried.push_back(p);
    return io::is_directory(p) && io::exists(io::join_path(p, "config.json"));
  };
  if (usable(tower_id)) return tower_id;
  if (tower_id[0] != '/' && usable(io::join_path(model_dir, tower_id))) return io::join_path(model_dir, tower_id);
  const std::string base = io::basename(tower_id);
  const std::string parent = io::join_path(model_dir, "..");
  for (const std::string& p : {io::join_path(parent, base), io::join_path(io::join_path(parent, "models"), base),
                               io::join_path("models", base)})
    if (usable(p)) return p;
  std::string list;
  for (const auto& p : tried) list += (list.empty() ? "" : ", ") + p;
  throw Error("the vision tower '" + tower_id + "' named by mm_vision_tower in " +
              io::join_path(model_dir, "config.json") + " was not found (looked in " + list +
              "); nothing is downloaded: put the CLIP checkpoint (config.json, weights, preprocessor_config.json) "
              "in one of those folders, e.g. models/" +
              base);
}

LlavaConfig load_config(const std::string& dir) {
  const std::string where = io::join_path(dir, "config.json");
  const nlohmann::json cfg = read_json_file(where);
  LlavaConfig c;
  const std::string model_type = nn::hf::get_string(cfg, "model_type", "", where);
  if (cfg.contains("mm_vision_tower")) {
    // The liuhaotian layout: the text model's own keys at the top level.
    c.layout = Layout::kOriginal;
    c.mistral = model_type.find("mistral") != std::string::npos;
    nlohmann::json text = cfg;
    text["model_type"] = c.mistral ? "mistral" : "llama";
    c.text = nn::decoder_options_from_config(text, where);
    c.vision_tower_id = nn::hf::get_string(cfg, "mm_vision_tower", "", where);
    c.vision_tower_dir = resolve_vision_tower(dir, c.vision_tower_id);
    const std::string tower_cfg_path = io::join_path(c.vision_tower_dir, "config.json");
    const nlohmann::json tower = read_json_file(tower_cfg_path);
    // openai/clip-vit-large-patch14-336 is a whole CLIPModel (vision_config inside); a saved
    // CLIPVisionModel keeps the vision keys at the top.
    c.vision = clip_vision_options(tower.contains("vision_config") ? tower["vision_config"] : tower, tower_cfg_path);
    c.vision_select_layer = select_layer(cfg, "mm_vision_select_layer", where);
    const std::string feature = nn::hf::get_string(cfg, "mm_vision_select_feature", "patch", where);
    MVB_CHECK(feature == "patch" || feature == "cls_patch", where, ": mm_vision_select_feature '", feature,
              "' is not one of patch, cls_patch");
    c.drop_cls = feature == "patch";
    c.projector = nn::hf::get_string(cfg, "mm_projector_type", "linear", where);
    MVB_CHECK(c.projector == "mlp2x_gelu", where, ": mm_projector_type '", c.projector,
              "' is not supported (LLaVA-1.5 and LLaVA-Med v1.5 use mlp2x_gelu)");
    const std::string merge = nn::hf::get_string(cfg, "mm_patch_merge_type", "flat", where);
    MVB_CHECK(merge == "flat", where, ": mm_patch_merge_type '", merge, "' is not supported (LLaVA-1.5 uses flat)");
    const std::string aspect = nn::hf::get_string(cfg, "image_aspect_ratio", "square", where);
    MVB_CHECK(aspect == "pad" || aspect == "square" || aspect == "resize", where, ": image_aspect_ratio '", aspect,
              "' is not supported (pad, square)");
    c.pad_to_square = aspect == "pad";
    c.im_start_end = nn::hf::get_bool(cfg, "mm_use_im_start_end", false, where);
    MVB_CHECK(!c.im_start_end, where, ": mm_use_im_start_end is not supported (false for LLaVA-1.5 / LLaVA-Med)");
    c.max_length = nn::hf::get_int(cfg, "tokenizer_model_max_length", 0, where);
    c.transform = clip_transform(c.vision_tower_dir, nullptr);
  } else {
    MVB_CHECK(cfg.contains("text_config") && cfg.contains("vision_config"), where,
              " is neither an original LLaVA config (mm_vision_tower) nor a llava-hf one (text_config, vision_config)");
    c.layout = Layout::kHf;
    const nlohmann::json& text = cfg["text_config"];
    c.mistral = nn::hf::get_string(text, "model_type", "llama", where) == "mistral";
    c.text = nn::decoder_options_from_config(text, where + " text_config");
    c.vision = clip_vision_options(cfg["vision_config"], where + " vision_config");
    c.vision_select_layer = select_layer(cfg, "vision_feature_layer", where);
    const std::string strategy = nn::hf::get_string(cfg, "vision_feature_select_strategy", "default", where);
    MVB_CHECK(strategy == "default" || strategy == "full", where, ": vision_feature_select_strategy '", strategy,
              "' is not one of default, full");
    c.drop_cls = strategy == "default";
    c.projector_act = nn::parse_activation(nn::hf::get_string(cfg, "projector_hidden_act", "gelu", where));
    MVB_CHECK(nn::hf::get_bool(cfg, "multimodal_projector_bias", true, where), where,
              ": multimodal_projector_bias false is not supported");
    c.image_token_index =
        nn::hf::get_int(cfg, "image_token_index", nn::hf::get_int(cfg, "image_token_id", 32000, where), where);
    bool do_pad = false;
    c.transform = clip_transform(dir, &do_pad);
    // llava-hf configs carry no image_aspect_ratio; the reference's LLaVA-1.5 pads (llava-v1.5-7b
    // says "pad"), so pad unless config.json says otherwise.
    const std::string aspect = nn::hf::get_string(cfg, "image_aspect_ratio", "pad", where);
    c.pad_to_square = aspect == "pad" || do_pad;
    c.max_length = nn::hf::get_int(cfg, "tokenizer_model_max_length", 0, where);
  }
  MVB_CHECK(c.vision.image_size == transform_output_size(c.transform), "the image processor gives ",
            transform_output_size(c.transform), " px images but the vision tower expects ", c.vision.image_size);
  return c;
}

}  // namespace mvb::llava
