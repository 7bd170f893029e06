#include "medvlmbench/vision/preprocessor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/vision/resample.h"

namespace mvb {

void read_rgb_triplet(const nlohmann::json& cfg, const char* key, std::array<float, 3>* out, const std::string& where) {
  if (!cfg.contains(key) || cfg[key].is_null()) return;
  const auto& v = cfg[key];
  if (v.is_number()) {
    out->fill(v.get<float>());
    return;
  }
  MVB_CHECK(v.is_array() && v.size() == 3 && v[0].is_number() && v[1].is_number() && v[2].is_number(), where, ": ", key,
            " must be a number or a list of 3 numbers, got ", v.dump());
  for (int c = 0; c < 3; ++c) (*out)[c] = v[c].get<float>();
}

namespace {

int get_int(const nlohmann::json& v, const std::string& where, const char* what) {
  MVB_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, where, ": ", what, " must be a positive integer, got ",
            v.dump());
  return v.get<int>();
}

// A do_* switch; null (as transformers saves unset attributes) means the default.
bool flag(const nlohmann::json& cfg, const char* key, bool fallback, const std::string& where) {
  if (!cfg.contains(key) || cfg[key].is_null()) return fallback;
  MVB_CHECK(cfg[key].is_boolean(), where, ": ", key, " must be true or false, got ", cfg[key].dump());
  return cfg[key].get<bool>();
}

bool clip_style(const std::string& type) {
  // Processors whose bare-int size means "shortest edge" (get_size_dict(default_to_square=False)).
  return type.find("CLIP") != std::string::npos || type.find("Chinese") != std::string::npos ||
         type.find("LlavaNext") != std::string::npos || type.find("ConvNext") != std::string::npos;
}

}  // namespace

ImageTransform image_transform_from_json(const nlohmann::json& cfg, const std::string& where) {
  MVB_CHECK(cfg.is_object(), where, " is not a JSON object");
  ImageTransform t;
  // Typed reads throughout: a value of the wrong type is an error naming this file and the key, not
  // nlohmann's bare type_error (issue 18, defect 9).
  auto text = [&](const char* key, const std::string& fallback) {
    if (!cfg.contains(key) || cfg[key].is_null()) return fallback;
    MVB_CHECK(cfg[key].is_string(), where, ": ", key, " must be a string, got ", cfg[key].dump());
    return cfg[key].get<std::string>();
  };
  const std::string type = text("image_processor_type", text("feature_extractor_type", ""));
  if (flag(cfg, "do_resize", true, where) && cfg.contains("size")) {
    const auto& s = cfg["size"];
    if (s.is_number()) {
      const int v = get_int(s, where, "size");
      if (clip_style(type)) {
        t.resize_mode = "shortest_edge";
        t.resize = v;
      } else {
        t.resize_mode = "exact";
        t.resize_width = t.resize_height = v;
      }
    } else if (s.is_object() && s.contains("shortest_edge")) {
      t.resize_mode = "shortest_edge";
      t.resize = get_int(s["shortest_edge"], where, "size.shortest_edge");
    } else if (s.is_object() && s.contains("height") && s.contains("width")) {
      t.resize_mode = "exact";
      t.resize_height = get_int(s["height"], where, "size.height");
      t.resize_width = get_int(s["width"], where, "size.width");
    } else {
      throw Error(where + ": unsupported size " + s.dump() + " (expected shortest_edge or height/width)");
    }
  } else {
    t.resize_mode = "none";
  }
  if (cfg.contains("resample") && !cfg["resample"].is_null()) {
    const auto& r = cfg["resample"];
    MVB_CHECK(r.is_number_integer(), where, ": resample must be a PIL code 0..5");
    t.interpolation = resample_name(resample_from_pil_code(r.get<int>()));
  } else {
    t.interpolation = "bicubic";  // every HF processor's default
  }
  t.crop = 0;
  if (flag(cfg, "do_center_crop", false, where)) {
    MVB_CHECK(cfg.contains("crop_size"), where, ": do_center_crop without crop_size");
    const auto& c = cfg["crop_size"];
    if (c.is_number()) {
      t.crop = get_int(c, where, "crop_size");
    } else {
      MVB_CHECK(c.is_object() && c.contains("height") && c.contains("width"), where, ": unsupported crop_size ",
                c.dump());
      t.crop_height = get_int(c["height"], where, "crop_size.height");
      t.crop_width = get_int(c["width"], where, "crop_size.width");
      t.crop = t.crop_width;
    }
  }
  // LLaVA's image_aspect_ratio "pad" as LlavaImageProcessor stores it (other processors' do_pad pads
  // a batch to its largest image, which one image at a time never needs).
  if (type.rfind("LlavaImageProcessor", 0) == 0) t.pad_to_square = flag(cfg, "do_pad", false, where);
  if (!flag(cfg, "do_rescale", true, where))
    t.rescale_factor = 1.0;
  else if (cfg.contains("rescale_factor") && !cfg["rescale_factor"].is_null()) {
    MVB_CHECK(cfg["rescale_factor"].is_number(), where, ": rescale_factor must be a number, got ",
              cfg["rescale_factor"].dump());
    t.rescale_factor = cfg["rescale_factor"].get<double>();
  }
  t.normalize = flag(cfg, "do_normalize", true, where);
  read_rgb_triplet(cfg, "image_mean", &t.mean, where);
  read_rgb_triplet(cfg, "image_std", &t.std, where);
  return t;
}

ImageTransform load_image_transform(const std::string& path) {
  const std::string file = io::is_directory(path) ? io::join_path(path, "preprocessor_config.json") : path;
  MVB_CHECK(io::exists(file), "missing ", file, "; the checkpoint folder needs its preprocessor_config.json");
  return image_transform_from_json(io::read_json(file), file);
}

std::pair<int, int> internvl_grid(int width, int height, int min_num, int max_num, int tile_width, int tile_height) {
  MVB_CHECK(min_num >= 1 && max_num >= min_num, "InternVL tiling needs 1 <= min_num <= max_num");
  MVB_CHECK(width > 0 && height > 0 && tile_width > 0 && tile_height > 0, "InternVL tiling of an empty image");
  const double aspect = static_cast<double>(width) / height;
  // transformers' get_all_supported_aspect_ratios: columns outer, rows inner, then a stable sort by
  // tile count. (InternVL's original code iterates a Python set instead; the order only matters on
  // exact ties between grids of the same tile count, and the -hf checkpoints the reference runs use
  // transformers' order.)
  std::vector<std::pair<int, int>> ratios;
  for (int i = 1; i <= max_num; ++i)
    for (int j = 1; j <= max_num; ++j)
      if (i * j <= max_num && i * j >= min_num) ratios.emplace_back(i, j);
  std::stable_sort(ratios.begin(), ratios.end(),
                   [](const auto& a, const auto& b) { return a.first * a.second < b.first * b.second; });
  double best_diff = std::numeric_limits<double>::infinity();
  std::pair<int, int> best{1, 1};
  const double area = static_cast<double>(width) * height;
  for (const auto& r : ratios) {
    const double diff = std::abs(aspect - static_cast<double>(r.first) / r.second);
    if (diff < best_diff) {
      best_diff = diff;
      best = r;
    } else if (diff == best_diff && area > 0.5 * static_cast<double>(tile_height) * tile_width * r.first * r.second) {
      best = r;
    }
  }
  return best;
}

std::pair<int, int> internvl_grid(int width, int height, int min_num, int max_num, int image_size) {
  return internvl_grid(width, height, min_num, max_num, image_size, image_size);
}

std::vector<RgbImage> internvl_dynamic_tiles(const RgbImage& img, int min_num, int max_num, int image_size,
                                             bool use_thumbnail) {
  const auto [cols, rows] = internvl_grid(img.width, img.height, min_num, max_num, image_size);
  const RgbImage resized = pil_resize(img, image_size * cols, image_size * rows, Resample::kBicubic);
  std::vector<RgbImage> tiles;
  for (int i = 0; i < cols * rows; ++i) {
    const int x = (i % cols) * image_size, y = (i / cols) * image_size;
    tiles.push_back(crop_box(resized, x, y, x + image_size, y + image_size));
  }
  if (use_thumbnail && tiles.size() != 1) tiles.push_back(pil_resize(img, image_size, image_size, Resample::kBicubic));
  return tiles;
}

InternVLConfig internvl_config_from_json(const nlohmann::json& cfg, const std::string& where) {
  MVB_CHECK(cfg.is_object(), where, " is not a JSON object");
  InternVLConfig c;
  if (cfg.contains("size")) {
    const auto& s = cfg["size"];
    MVB_CHECK(s.is_object() && s.contains("height") && s.contains("width"), where,
              ": InternVL size must be {\"height\", \"width\"}, got ", s.dump());
    c.tile_height = get_int(s["height"], where, "size.height");
    c.tile_width = get_int(s["width"], where, "size.width");
  }
  if (cfg.contains("min_patches")) c.min_patches = get_int(cfg["min_patches"], where, "min_patches");
  if (cfg.contains("max_patches")) c.max_patches = get_int(cfg["max_patches"], where, "max_patches");
  MVB_CHECK(c.min_patches <= c.max_patches, where, ": min_patches ", c.min_patches, " > max_patches ", c.max_patches);
  if (cfg.contains("resample") && !cfg["resample"].is_null()) {
    MVB_CHECK(cfg["resample"].is_number_integer(), where, ": resample must be a PIL code 0..5");
    c.interpolation = resample_name(resample_from_pil_code(cfg["resample"].get<int>()));
  }
  if (!flag(cfg, "do_rescale", true, where))
    c.rescale_factor = 1.0;
  else if (cfg.contains("rescale_factor") && !cfg["rescale_factor"].is_null()) {
    MVB_CHECK(cfg["rescale_factor"].is_number(), where, ": rescale_factor must be a number, got ",
              cfg["rescale_factor"].dump());
    c.rescale_factor = cfg["rescale_factor"].get<double>();
  }
  read_rgb_triplet(cfg, "image_mean", &c.mean, where);
  read_rgb_triplet(cfg, "image_std", &c.std, where);
  return c;
}

InternVLPixels internvl_preprocess(const RgbImage& img, const InternVLConfig& cfg) {
  MVB_CHECK(img.width > 0 && img.height > 0, "cannot preprocess an empty image");
  const Resample resample = parse_resample(cfg.interpolation);
  const int tw = cfg.tile_width, th = cfg.tile_height;
  // GotOcr2ImageProcessor.crop_image_to_patches: one PIL resize to the whole grid, tiles cut from it
  // row by row, then the thumbnail (the whole image at tile size) when there is more than one tile.
  std::vector<RgbImage> tiles;
  if (cfg.crop_to_patches && cfg.max_patches > 1) {
    const auto [cols, rows] = internvl_grid(img.width, img.height, cfg.min_patches, cfg.max_patches, tw, th);
    const RgbImage resized = pil_resize(img, tw * cols, th * rows, resample);
    for (int i = 0; i < cols * rows; ++i) {
      const int x = (i % cols) * tw, y = (i / cols) * th;
      tiles.push_back(crop_box(resized, x, y, x + tw, y + th));
    }
    if (cfg.use_thumbnail && tiles.size() != 1) tiles.push_back(pil_resize(img, tw, th, resample));
  } else {
    tiles.push_back(pil_resize(img, tw, th, resample));
  }
  ImageTransform t;
  t.resize_mode = "none";
  t.crop = 0;
  t.mean = cfg.mean;
  t.std = cfg.std;
  t.rescale_factor = cfg.rescale_factor;
  InternVLPixels out;
  out.num_patches = static_cast<int64_t>(tiles.size());
  out.pixel_values = at::empty({out.num_patches, 3, th, tw}, at::kFloat);
  for (size_t i = 0; i < tiles.size(); ++i)
    out.pixel_values[static_cast<int64_t>(i)].copy_(to_normalized_tensor(tiles[i], t));
  return out;
}

}  // namespace mvb
