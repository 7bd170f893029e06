// Model-family image processors configured from a checkpoint's preprocessor_config.json, matching
// transformers' CLIPImageProcessor / SiglipImageProcessor / BlipImageProcessor / Qwen2VLImageProcessor
// and InternVL's dynamic tiling (all of which resize with PIL).
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/vision/image.h"

namespace mvb {

// Reads preprocessor_config.json (a path to the file or to the checkpoint folder). Understands
// size as {"shortest_edge"}, {"height","width"} or a bare int (shortest edge for CLIP-style
// processors, square otherwise), crop_size, resample (PIL code), do_* switches, rescale_factor,
// image_mean/std. Throws mvb::Error naming the file for a missing file or malformed values.
ImageTransform load_image_transform(const std::string& path);
ImageTransform image_transform_from_json(const nlohmann::json& cfg, const std::string& where);

// Qwen2-VL ------------------------------------------------------------------------------------
struct Qwen2VLConfig {
  int patch_size = 14;
  int temporal_patch_size = 2;
  int merge_size = 2;
  int64_t min_pixels = 56 * 56;
  int64_t max_pixels = 28 * 28 * 1280;
  std::string interpolation = "bicubic";
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
  double rescale_factor = 1.0 / 255.0;
};
Qwen2VLConfig qwen2vl_config_from_json(const nlohmann::json& cfg, const std::string& where);

// qwen_vl_utils / transformers smart_resize: (height, width) divisible by `factor` with the pixel
// count inside [min_pixels, max_pixels] and the aspect ratio nearly kept. Python rounding
// (half to even) is reproduced. Throws for aspect ratios above 200 like the reference.
std::pair<int, int> smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels);

struct Qwen2VLPixels {
  at::Tensor patches;                 // [grid_t * grid_h * grid_w, 3 * temporal * patch * patch], float
  std::array<int64_t, 3> grid_thw{};  // image_grid_thw
};
Qwen2VLPixels qwen2vl_preprocess(const RgbImage& img, const Qwen2VLConfig& cfg);

// InternVL ------------------------------------------------------------------------------------
// InternVL's dynamic_preprocess: picks the tile grid (i x j, min_num <= i*j <= max_num) whose
// aspect ratio is closest to the image's, resizes to it with PIL bicubic and cuts image_size
// tiles, plus a whole-image thumbnail when use_thumbnail and more than one tile.
std::vector<RgbImage> internvl_dynamic_tiles(const RgbImage& img, int min_num = 1, int max_num = 12,
                                             int image_size = 448, bool use_thumbnail = true);
// The chosen (columns, rows).
std::pair<int, int> internvl_grid(int width, int height, int min_num, int max_num, int image_size);

}  // namespace mvb
