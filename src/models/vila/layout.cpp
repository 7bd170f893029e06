// The VILA checkpoint layout (see include/medvlmbench/models/vila/layout.h). Semantics follow the
// reference's vendored VILA code (ubc-tea/MedVLMBench model/release/vila: model/utils/utils.py
// get_model_config, model/builder.py prepare_config_for_eval, language_model/builder.py,
// multimodal_encoder/{builder,vision_encoder}.py, multimodal_projector/base_projector.py,
// encoders/image/basic.py).
#include "medvlmbench/models/vila/layout.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb::vila {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// get_model_config(): a dict (or saved config) means <root>/<key without _cfg>; a string is a path
// (relative paths resolve against the checkpoint folder here, as the Python process's working
// directory is not ours to know).
std::string part_dir(const nlohmann::json& cfg, const std::string& key, const std::string& root,
                     const std::string& where) {
  const std::string sub = io::join_path(root, key.substr(0, key.size() - 4));
  std::string dir;
  if (cfg.contains(key) && cfg[key].is_string()) {
    const std::string p = cfg[key].get<std::string>();
    dir = io::is_directory(p) ? p : io::join_path(root, p);
    MVB_CHECK(io::is_directory(dir), where, ": \"", key, "\" names '", p, "', which is neither a folder nor ", dir,
              "; nothing is downloaded: put that checkpoint part there");
  } else {
    MVB_CHECK(cfg.contains(key) && cfg[key].is_object(), where, ": \"", key,
              "\" is missing; a VILA checkpoint's config.json names llm_cfg, vision_tower_cfg and mm_projector_cfg "
              "(sub-folders llm/, vision_tower/, mm_projector/)");
    dir = sub;
  }
  MVB_CHECK(io::exists(io::join_path(dir, "config.json")), "missing ", io::join_path(dir, "config.json"), " (the ", key,
            " part of the VILA checkpoint ", root, ")");
  return dir;
}

// Fields whose behaviour we do not implement: refused when set to anything but their inert value.
void refuse_unimplemented(const nlohmann::json& cfg, const std::string& where, int64_t image_size) {
  auto truthy = [&](const char* k) {
    if (!cfg.contains(k) || cfg[k].is_null()) return false;
    const auto& v = cfg[k];
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v.get<double>() != 0;
    if (v.is_string()) return !v.get<std::string>().empty();
    return !v.empty();
  };
  for (const char* k : {"s2", "ps3", "mm_use_im_start_end"})
    MVB_CHECK(!truthy(k), where, ": \"", k, "\" = ", cfg[k].dump(),
              " is not supported (VILA1.5 / VILA-M3 / NVILA set it ", "false)");
  if (cfg.contains("vision_resolution") && !cfg["vision_resolution"].is_null()) {
    const int64_t r = nn::hf::get_int(cfg, "vision_resolution", -1, where);
    MVB_CHECK(r == -1 || r == image_size, where, ": \"vision_resolution\" = ", r,
              " (interpolated SigLIP position embeddings) is not supported; the tower's image_size is ", image_size);
  }
  for (const char* k : {"quantize_model", "fp8_llm_cfg", "sound_tower_cfg"})
    MVB_CHECK(!truthy(k), where, ": \"", k, "\" is not supported");
}

ImageEncoderConfig image_encoder_of(const nlohmann::json& cfg, const std::string& where) {
  ImageEncoderConfig e;
  if (!cfg.contains("image_encoder") || cfg["image_encoder"].is_null()) return e;
  nlohmann::json j = cfg["image_encoder"];
  if (j.is_string()) {
    try {
      j = nlohmann::json::parse(j.get<std::string>());
    } catch (const std::exception& ex) {
      throw Error(where + ": \"image_encoder\" is not valid JSON (" + ex.what() + ")");
    }
  }
  MVB_CHECK(j.is_object(), where, ": \"image_encoder\" must be an object or a JSON string of one");
  const std::string target = nn::hf::get_string(j, "_target_", "", where + " image_encoder");
  MVB_CHECK(ends_with(target, "encoders.BasicImageEncoder"), where, ": image_encoder _target_ '", target,
            "' is not supported (only BasicImageEncoder)");
  for (auto it = j.begin(); it != j.end(); ++it)
    MVB_CHECK(it.key() == "_target_" || it.key() == "start_tokens" || it.key() == "end_tokens", where,
              ": image_encoder.", it.key(), " is not supported (BasicImageEncoder takes start_tokens, end_tokens)");
  auto tokens = [&](const char* k, std::optional<std::string> fallback) -> std::optional<std::string> {
    if (!j.contains(k)) return fallback;
    if (j[k].is_null()) return std::nullopt;
    MVB_CHECK(j[k].is_string(), where, ": image_encoder.", k, " must be a string or null");
    return j[k].get<std::string>();
  };
  e.start_tokens = tokens("start_tokens", std::nullopt);
  e.end_tokens = tokens("end_tokens", std::string("\n"));
  return e;
}

}  // namespace

VilaConfig load_config(const std::string& dir) {
  const std::string where = io::join_path(dir, "config.json");
  MVB_CHECK(io::exists(where), "missing ", where, "; a VILA checkpoint folder holds config.json and llm/, ",
            "vision_tower/, mm_projector/");
  VilaConfig c;
  c.root_json = read_json_file(where);
  const nlohmann::json& cfg = c.root_json;
  c.layout.root = dir;
  // prepare_config_for_eval: the deprecated mm_vision_tower string stands in for vision_tower_cfg.
  nlohmann::json parts = cfg;
  if ((!parts.contains("vision_tower_cfg") || parts["vision_tower_cfg"].is_null()) && parts.contains("mm_vision_tower"))
    parts["vision_tower_cfg"] = parts["mm_vision_tower"];
  c.layout.llm_dir = part_dir(parts, "llm_cfg", dir, where);
  c.layout.vision_tower_dir = part_dir(parts, "vision_tower_cfg", dir, where);
  c.layout.mm_projector_dir = part_dir(parts, "mm_projector_cfg", dir, where);
  c.layout.tokenizer_dir = c.layout.llm_dir;
  if (!io::exists(io::join_path(c.layout.tokenizer_dir, "tokenizer_config.json")))
    c.layout.tokenizer_dir = io::join_path(c.layout.llm_dir, "llm");
  MVB_CHECK(io::exists(io::join_path(c.layout.tokenizer_dir, "tokenizer_config.json")), "no tokenizer_config.json in ",
            c.layout.llm_dir, " (nor in its llm/): the VILA tokenizer lives with the language model");

  // llm/
  const std::string llm_where = io::join_path(c.layout.llm_dir, "config.json");
  const nlohmann::json llm = read_json_file(llm_where);
  c.llm_model_type = nn::hf::get_string(llm, "model_type", "", llm_where);
  MVB_CHECK(c.llm_model_type == "llama" || c.llm_model_type == "qwen2", llm_where, ": model_type '", c.llm_model_type,
            "' is not supported (VILA1.5 / VILA-M3: llama, NVILA: qwen2)");
  c.text = nn::decoder_options_from_config(llm, llm_where);

  // vision_tower/: build_vision_tower picks the class from architectures[0] (resume path).
  const std::string vt_where = io::join_path(c.layout.vision_tower_dir, "config.json");
  const nlohmann::json vt = read_json_file(vt_where);
  std::string arch;
  if (vt.contains("architectures") && vt["architectures"].is_array() && !vt["architectures"].empty() &&
      vt["architectures"][0].is_string())
    arch = vt["architectures"][0].get<std::string>();
  MVB_CHECK(arch == "SiglipVisionModel", vt_where, ": architectures[0] '", arch,
            "' is not supported (VILA's towers here: SiglipVisionModel)");
  c.vision = SiglipVisionConfig::from_json(vt, vt_where);
  c.image_transform = load_image_transform(c.layout.vision_tower_dir);
  refuse_unimplemented(cfg, where, c.vision.image_size);

  // mm_projector/
  const std::string mp_where = io::join_path(c.layout.mm_projector_dir, "config.json");
  const nlohmann::json mp = read_json_file(mp_where);
  c.projector_type = nn::hf::get_string(mp, "mm_projector_type", "", mp_where);
  MVB_CHECK(c.projector_type == "mlp_downsample" || c.projector_type == "mlp_downsample_2x2_fix", mp_where,
            ": mm_projector_type '", c.projector_type,
            "' is not supported (mlp_downsample: VILA1.5 / VILA-M3, mlp_downsample_2x2_fix: NVILA)");

  // The top level.
  c.select_layer = nn::hf::get_int(cfg, "mm_vision_select_layer", -2, where);
  const std::string feature = nn::hf::get_string(cfg, "mm_vision_select_feature", "patch", where);
  MVB_CHECK(feature == "patch" || feature == "cls_patch", where, ": mm_vision_select_feature '", feature,
            "' is not one of patch, cls_patch");
  c.drop_first_token = feature == "patch";
  c.image_aspect_ratio = nn::hf::get_string(cfg, "image_aspect_ratio", "resize", where);
  MVB_CHECK(c.image_aspect_ratio == "resize" || c.image_aspect_ratio == "dynamic_s2", where, ": image_aspect_ratio '",
            c.image_aspect_ratio, "' is not supported (resize: VILA1.5 / VILA-M3, dynamic_s2: NVILA)");
  c.dynamic_s2 = nn::hf::get_bool(cfg, "dynamic_s2", false, where);
  if (cfg.contains("s2_scales") && !cfg["s2_scales"].is_null()) {
    const auto& s = cfg["s2_scales"];
    if (s.is_string()) {
      for (const auto& part : split(s.get<std::string>(), ',')) {
        try {
          c.s2_scales.push_back(std::stoll(trim(part)));
        } catch (const std::exception&) {
          throw Error(where + ": s2_scales '" + s.get<std::string>() + "' is not a list of integers");
        }
      }
    } else {
      MVB_CHECK(s.is_array(), where, ": s2_scales must be a string \"448,896,1344\" or a list");
      for (const auto& v : s) {
        MVB_CHECK(v.is_number_integer(), where, ": s2_scales must hold integers");
        c.s2_scales.push_back(v.get<int64_t>());
      }
    }
  }
  c.s2_max_split_size = nn::hf::get_int(cfg, "s2_max_split_size", 0, where);
  c.min_tiles = nn::hf::get_int(cfg, "min_tiles", 1, where);
  c.max_tiles = nn::hf::get_int(cfg, "max_tiles", 12, where);
  c.chat_template = nn::hf::get_string(cfg, "chat_template", "", where);
  c.image_encoder = image_encoder_of(cfg, where);
  MVB_CHECK(c.vision.image_size % c.vision.patch_size == 0, vt_where, ": image_size ", c.vision.image_size,
            " is not a multiple of patch_size ", c.vision.patch_size);
  return c;
}

at::Tensor downsample_2x2(const at::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(2);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(x.size(1)))));
  MVB_CHECK(side * side == x.size(1), "downsample_2x2 needs a square grid of tokens, got ", x.size(1));
  at::Tensor g = x.reshape({n, side, side, c});
  const int64_t even = side + side % 2;
  if (even != side) g = at::constant_pad_nd(g, {0, 0, 0, 1, 0, 1});  // zero row and column at the end
  // [n, r, c', channel] -> [n, R, 2, C, 2, ch] -> blocks ordered (row offset, column offset).
  g = g.reshape({n, even / 2, 2, even / 2, 2, c}).permute({0, 1, 3, 2, 4, 5});
  return g.reshape({n, (even / 2) * (even / 2), 4 * c});
}

ProjectorImpl::ProjectorImpl(int64_t mm_hidden_size, int64_t hidden_size) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * mm_hidden_size}).eps(1e-5)));
  fc1 = register_module("fc1", nn::Linear(4 * mm_hidden_size, hidden_size, true));
  fc2 = register_module("fc2", nn::Linear(hidden_size, hidden_size, true));
}

at::Tensor ProjectorImpl::forward(const at::Tensor& vision_tokens) {
  at::Tensor h = norm->forward(downsample_2x2(vision_tokens));
  return fc2->forward(nn::activate(fc1->forward(h), nn::Activation::kGelu));  // nn.GELU(): exact erf
}

VilaNetImpl::VilaNetImpl(const VilaConfig& c) : cfg(c) {
  nn::VisionTransformerOptions v = c.vision.tower();
  v.attention_pool = false;  // the pooling head exists in the checkpoint but never feeds hidden_states[-2]
  vision_tower = register_module("vision_tower", nn::VisionTransformer(v));
  // config.mm_hidden_size: the tower's hidden size, times the number of scales with dynamic S2 (NVILA's feature
  // maps are concatenated on channels before the projector).
  const int64_t mm_hidden =
      c.vision.hidden_size * (c.dynamic_s2 ? std::max<int64_t>(1, static_cast<int64_t>(c.s2_scales.size())) : 1);
  mm_projector = register_module("mm_projector", Projector(mm_hidden, c.text.hidden_size));
  llm = register_module("llm", nn::CausalLM(c.text));
}

at::Tensor VilaNetImpl::vision_features(const at::Tensor& pixel_values) {
  at::Tensor h = vision_tower->hidden_state(pixel_values, cfg.select_layer);
  return cfg.drop_first_token ? h.slice(1, 1) : h;
}

at::Tensor VilaNetImpl::encode_images(const at::Tensor& pixel_values) {
  return mm_projector->forward(vision_features(pixel_values));
}

std::string load_weights(VilaNetImpl& net) {
  const Layout& l = net.cfg.layout;
  const bool tied = net.cfg.text.tie_word_embeddings;
  nn::TensorMap all;
  std::string source;
  auto add = [&](const std::string& folder, const nn::RenameFn& rename) {
    io::StateDict sd = io::StateDict::open(folder);
    for (auto& [k, v] : nn::read_weights(sd, rename)) all[k] = v;
    source += (source.empty() ? "" : " + ") + sd.source();
  };
  add(l.llm_dir, [&](const std::string& n) -> std::optional<std::string> {
    if (ends_with(n, "rotary_emb.inv_freq")) return std::nullopt;
    if (tied && starts_with(n, "lm_head.")) return std::nullopt;
    return "llm." + n;
  });
  add(l.vision_tower_dir, [](const std::string& n) -> std::optional<std::string> {
    std::string rest = starts_with(n, "vision_model.") ? n.substr(13) : n;
    if (starts_with(rest, "head.") || ends_with(rest, "position_ids")) return std::nullopt;
    return "vision_tower." + rest;
  });
  add(l.mm_projector_dir, [](const std::string& n) -> std::optional<std::string> {
    for (const auto& [pub, ours] :
         {std::pair<const char*, const char*>{"layers.1.", "norm."}, {"layers.2.", "fc1."}, {"layers.4.", "fc2."}})
      if (starts_with(n, pub)) return std::string("mm_projector.") + ours + n.substr(9);
    return "mm_projector.unknown." + n;  // reported by assign_weights
  });
  // model/vila.py resize_token_embeddings(len(tokenizer)): a net built with fewer rows than the
  // checkpoint's vocabulary (the caller sets text.vocab_size to the tokenizer's length) keeps the first ones.
  const int64_t vocab = net.cfg.text.vocab_size;
  for (const char* k : {"llm.model.embed_tokens.weight", "llm.lm_head.weight"}) {
    auto it = all.find(k);
    if (it != all.end() && it->second.dim() == 2 && it->second.size(0) > vocab)
      it->second = it->second.slice(0, 0, vocab);
  }
  nn::assign_weights(net, all, source);
  return source;
}

std::optional<std::string> published_module_name(const std::string& n) {
  if (starts_with(n, "llm.")) return n;
  if (starts_with(n, "vision_tower.")) return "vision_tower.vision_tower.vision_model." + n.substr(13);
  for (const auto& [ours, pub] : {std::pair<const char*, const char*>{"mm_projector.norm", "mm_projector.layers.1"},
                                  {"mm_projector.fc1", "mm_projector.layers.2"},
                                  {"mm_projector.fc2", "mm_projector.layers.4"}})
    if (starts_with(n, ours)) return std::string(pub) + n.substr(std::string(ours).size());
  return std::nullopt;
}

}  // namespace mvb::vila
