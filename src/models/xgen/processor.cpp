// xGen-MM's config.json, preprocessor_config.json, anyres image processing (Blip3ImageProcessor remote code:
// process_anyres_image, select_best_resolution, resize_and_pad_image, divide_to_patches) and the model card's
// prompt. See include/medvlmbench/models/xgen/model.h.
#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/xgen/model.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/vision/resample.h"

namespace mvb::xgen {
namespace {

using nn::hf::get_bool;
using nn::hf::get_double;
using nn::hf::get_int;
using nn::hf::get_string;
using nn::hf::has;

Grids grids_of(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_array() && !j.empty(), where, " must be a list of [width, height] pairs");
  Grids g;
  for (const auto& p : j) {
    MVB_CHECK(p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_integer() &&
                  p[0].get<int64_t>() > 0 && p[1].get<int64_t>() > 0,
              where, " must be a list of [width, height] pairs of positive integers (got ", p.dump(), ")");
    g.emplace_back(p[0].get<int64_t>(), p[1].get<int64_t>());
  }
  return g;
}

const nlohmann::json& section(const nlohmann::json& j, const char* key, const std::string& where) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (!has(j, key)) return empty;
  MVB_CHECK(j.at(key).is_object(), where, ": ", key, " must be an object");
  return j.at(key);
}

}  // namespace

Grids default_grids(int64_t b) { return {{b, 2 * b}, {2 * b, b}, {2 * b, 2 * b}, {3 * b, b}, {b, 3 * b}}; }

Config Config::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, ": not a JSON object");
  const std::string type = get_string(j, "model_type", "xgenmm", where);
  MVB_CHECK(type == "xgenmm", where, ": model_type \"", type, "\" is not xgenmm (an xGen-MM remote-code checkpoint)");
  Config c;
  // Vision encoder: the published code builds AutoModel.from_pretrained(model_name).vision_model; only
  // so400m/14-384 is named there. A tiny checkpoint spells its tower out in vision_config.
  const auto& ve = section(j, "vision_encoder_config", where);
  const std::string ve_where = where + " vision_encoder_config";
  const std::string name = get_string(ve, "model_name", "google/siglip-so400m-patch14-384", ve_where);
  if (has(ve, "vision_config")) {
    c.vision = SiglipVisionConfig::from_json(ve.at("vision_config"), ve_where + ".vision_config");
  } else {
    MVB_CHECK(name == "google/siglip-so400m-patch14-384", ve_where, ": model_name \"", name,
              "\" is not google/siglip-so400m-patch14-384; add its SiglipVisionConfig as vision_config");
    c.vision.hidden_size = 1152;
    c.vision.intermediate_size = 4304;
    c.vision.num_hidden_layers = 27;
    c.vision.num_attention_heads = 16;
    c.vision.image_size = 384;
    c.vision.patch_size = 14;
  }
  c.vision.vision_use_head = false;  // the pooling head's weights are in the checkpoint but never used
  const std::string aspect = get_string(ve, "image_aspect_ratio", "anyres", ve_where);
  MVB_CHECK(aspect == "anyres", ve_where, ": image_aspect_ratio \"", aspect, "\" is not implemented (only anyres)");
  MVB_CHECK(get_bool(ve, "anyres_patch_sampling", true, ve_where), ve_where,
            ": anyres_patch_sampling false is not implemented");
  c.anyres_grids = has(ve, "anyres_grids") ? grids_of(ve.at("anyres_grids"), ve_where + ".anyres_grids")
                                           : default_grids(c.vision.image_size);

  const auto& vt = section(j, "vision_tokenizer_config", where);
  const std::string vt_where = where + " vision_tokenizer_config";
  c.vis_feature_dim = get_int(vt, "vis_feature_dim", 1152, vt_where);
  c.lang_embedding_dim = get_int(vt, "lang_embedding_dim", 3072, vt_where);
  c.num_vis_tokens = get_int(vt, "num_vis_tokens", 128, vt_where);
  c.perceiver_depth = get_int(vt, "depth", 6, vt_where);
  c.perceiver_heads = get_int(vt, "heads", 16, vt_where);
  c.perceiver_dim_head = get_int(vt, "dim_head", 96, vt_where);
  MVB_CHECK(c.num_vis_tokens > 0 && c.perceiver_depth > 0 && c.perceiver_heads > 0 && c.perceiver_dim_head > 0,
            vt_where, ": num_vis_tokens, depth, heads and dim_head must be positive");
  MVB_CHECK(c.vis_feature_dim == c.vision.hidden_size, vt_where, ": vis_feature_dim ", c.vis_feature_dim,
            " differs from the vision tower's hidden_size ", c.vision.hidden_size);
  if (has(vt, "image_aspect_ratio"))
    MVB_CHECK(get_string(vt, "image_aspect_ratio", "", vt_where) == "anyres" ||
                  get_string(vt, "image_aspect_ratio", "", vt_where) == "none",
              vt_where, ": image_aspect_ratio must be anyres or none");

  // Phi-3: config.json carries a few keys; the rest are Phi3Config's defaults (transformers 4.41.1).
  MVB_CHECK(has(j, "text_config") && j.at("text_config").is_object(), where, ": text_config is missing");
  const std::string tw = where + " text_config";
  nlohmann::json t = j.at("text_config");
  c.text_config = t;
  const std::string ttype = get_string(t, "model_type", "phi3", tw);
  MVB_CHECK(ttype == "phi3", tw, ": model_type \"", ttype, "\" is not implemented (phi3 only)");
  MVB_CHECK(!has(t, "rope_scaling"), tw, ": rope_scaling ", t.contains("rope_scaling") ? t["rope_scaling"].dump() : "",
            " (Phi-3 LongRoPE / su scaling) is not implemented; r-v1's Phi-3-mini-4k has none");
  MVB_CHECK(get_double(t, "partial_rotary_factor", 1.0, tw) == 1.0, tw, ": partial_rotary_factor is not implemented");
  MVB_CHECK(!get_bool(t, "tie_word_embeddings", false, tw), tw, ": tie_word_embeddings true is not implemented");
  c.initial_tokenizer_len = get_int(t, "initial_tokenizer_len", 32012, tw);
  const nlohmann::json defaults = {{"vocab_size", 32064},     {"hidden_size", 3072},       {"intermediate_size", 8192},
                                   {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"rms_norm_eps", 1e-5},
                                   {"rope_theta", 10000.0},   {"hidden_act", "silu"},      {"pad_token_id", 32000}};
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [k, v] : defaults.items()) m[k] = has(t, k) ? t.at(k) : v;
  m["num_key_value_heads"] = has(t, "num_key_value_heads") ? t.at("num_key_value_heads") : m["num_attention_heads"];
  if (has(t, "attention_bias"))
    MVB_CHECK(!get_bool(t, "attention_bias", false, tw), tw, ": attention_bias true is not implemented");
  // Phi3Attention / Phi3MLP are LLaMA's once qkv_proj and gate_up_proj are split (model.cpp); Mistral's family
  // reads the sliding window Phi-3's mask uses.
  m["model_type"] = "mistral";
  m["sliding_window"] = has(t, "sliding_window") ? t.at("sliding_window") : nlohmann::json(0);
  c.text = nn::decoder_options_from_config(m, tw);
  c.text.pad_token_id = -1;
  MVB_CHECK(c.text.vocab_size >= c.initial_tokenizer_len, tw, ": vocab_size ", c.text.vocab_size,
            " is smaller than initial_tokenizer_len ", c.initial_tokenizer_len);
  MVB_CHECK(c.lang_embedding_dim == c.text.hidden_size, vt_where, ": lang_embedding_dim ", c.lang_embedding_dim,
            " differs from the language model's hidden_size ", c.text.hidden_size);
  return c;
}

Config Config::load(const std::string& dir) {
  const std::string p = io::join_path(dir, "config.json");
  MVB_CHECK(io::exists(p), p, " is missing; XGenMiniV1 needs the checkpoint folder of an xGen-MM model");
  return from_json(io::read_json(p), p);
}

ImageConfig ImageConfig::load(const std::string& dir) {
  const std::string p = io::join_path(dir, "preprocessor_config.json");
  MVB_CHECK(io::exists(p), p, " is missing (the Blip3ImageProcessor settings)");
  const nlohmann::json j = io::read_json(p);
  ImageConfig c;
  if (has(j, "size")) {
    const auto& s = j.at("size");
    MVB_CHECK(s.is_array() && s.size() == 2 && s[0] == s[1] && s[0].is_number_integer(), p,
              ": size must be [n, n] (square crops)");
    c.size = s[0].get<int64_t>();
  }
  MVB_CHECK(get_bool(j, "do_resize", true, p), p, ": do_resize false is not implemented");
  MVB_CHECK(get_string(j, "resize_mode", "squash", p) == "squash", p,
            ": resize_mode other than squash is not implemented");
  MVB_CHECK(get_string(j, "interpolation_mode", "bicubic", p) == "bicubic", p,
            ": interpolation_mode other than bicubic is not implemented");
  for (const auto& [key, dst] :
       {std::pair<const char*, std::vector<float>*>{"image_mean", &c.mean}, {"image_std", &c.std}}) {
    if (!has(j, key)) continue;
    MVB_CHECK(j.at(key).is_array() && j.at(key).size() == 3, p, ": ", key, " must list 3 numbers");
    for (int i = 0; i < 3; ++i) (*dst)[i] = j.at(key)[i].get<float>();
  }
  c.grids = has(j, "grids") ? grids_of(j.at("grids"), p + " grids") : default_grids(c.size);
  return c;
}

std::pair<int64_t, int64_t> select_best_resolution(int64_t ow, int64_t oh, const Grids& grids) {
  std::pair<int64_t, int64_t> best{-1, -1};
  int64_t max_eff = 0;
  double min_waste = INFINITY;
  for (const auto& [w, h] : grids) {
    const double scale = std::min(static_cast<double>(w) / ow, static_cast<double>(h) / oh);
    const int64_t dw = static_cast<int64_t>(ow * scale), dh = static_cast<int64_t>(oh * scale);
    const int64_t eff = std::min(dw * dh, ow * oh);
    const double waste = static_cast<double>(w * h - eff);
    if (eff > max_eff || (eff == max_eff && waste < min_waste)) {
      max_eff = eff;
      min_waste = waste;
      best = {w, h};
    }
  }
  MVB_CHECK(best.first > 0, "no anyres grid fits a ", ow, " x ", oh, " image");
  return best;
}

namespace {

// ToTensor + Normalize of an 8-bit RGB window (x0, y0, s, s) of `img` (zeros outside) into out [3, s, s].
void to_tensor(const RgbImage& img, int64_t x0, int64_t y0, int64_t s, const ImageConfig& cfg, float* out) {
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < s; ++y) {
      for (int64_t x = 0; x < s; ++x) {
        const int64_t sx = x0 + x, sy = y0 + y;
        uint8_t v = 0;
        if (sx < img.width && sy < img.height) v = img.pixels[(sy * img.width + sx) * 3 + c];
        // torchvision: ToTensor divides by 255 in float32, Normalize subtracts the mean and divides by std.
        out[(c * s + y) * s + x] = (static_cast<float>(v) / 255.0f - cfg.mean[c]) / cfg.std[c];
      }
    }
  }
}

}  // namespace

at::Tensor preprocess_anyres(const RgbImage& img, const ImageConfig& cfg) {
  MVB_CHECK(img.width > 0 && img.height > 0, "empty image");
  const int64_t s = cfg.size;
  const auto [tw, th] = select_best_resolution(img.width, img.height, cfg.grids);
  // resize_and_pad_image: PIL's default (bicubic) resize keeping the aspect, pasted centred on black.
  const double sw = static_cast<double>(tw) / img.width, sh = static_cast<double>(th) / img.height;
  int64_t nw, nh;
  if (sw < sh) {
    nw = tw;
    nh = std::min<int64_t>(static_cast<int64_t>(std::ceil(img.height * sw)), th);
  } else {
    nh = th;
    nw = std::min<int64_t>(static_cast<int64_t>(std::ceil(img.width * sh)), tw);
  }
  const RgbImage resized = pil_resize(img, static_cast<int>(nw), static_cast<int>(nh), Resample::kBicubic);
  RgbImage padded;
  padded.width = static_cast<int>(tw);
  padded.height = static_cast<int>(th);
  padded.pixels.assign(static_cast<size_t>(tw * th * 3), 0);
  const int64_t px = (tw - nw) / 2, py = (th - nh) / 2;
  for (int64_t y = 0; y < nh; ++y)
    std::copy_n(resized.pixels.data() + y * nw * 3, nw * 3, padded.pixels.data() + ((y + py) * tw + px) * 3);
  const int64_t cols = (tw + s - 1) / s, rows = (th + s - 1) / s;
  at::Tensor out = at::empty({1 + rows * cols, 3, s, s}, at::kFloat);
  float* o = out.data_ptr<float>();
  // The base crop: image.resize((s, s)) (bicubic); the processor's own Resize((s, s)) is then a no-op, as it is
  // for every crop (PIL returns a copy at the same size).
  to_tensor(pil_resize(img, static_cast<int>(s), static_cast<int>(s), Resample::kBicubic), 0, 0, s, cfg, o);
  int64_t k = 1;
  for (int64_t y = 0; y < th; y += s)
    for (int64_t x = 0; x < tw; x += s) to_tensor(padded, x, y, s, cfg, o + (k++) * 3 * s * s);
  return out;
}

std::string render_prompt(const std::string& question) {
  return "<|system|>\nA chat between a curious user and an artificial intelligence assistant. The assistant gives "
         "helpful, detailed, and polite answers to the user's questions.<|end|>\n<|user|>\n<image>\n" +
         question + "<|end|>\n<|assistant|>\n";
}

}  // namespace mvb::xgen
