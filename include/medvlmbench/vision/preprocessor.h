// Model-family image processors configured from a checkpoint's preprocessor_config.json, matching
// transformers' PIL-backend ("slow", use_fast=False) CLIPImageProcessor / SiglipImageProcessor /
// BlipImageProcessor / LlavaImageProcessor and GotOcr2ImageProcessor (InternVL-hf tiling) bit for
// bit: tests/vision/processor_parity_test.cpp holds them to the outputs of those classes
// (tests/oracles/vision/make_processor_fixtures.py). Qwen2VLImageProcessor (after qwen_vl_utils)
// lives with its model: models/qwen2_vl/processor.h.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/vision/image.h"

namespace mvb {

// Reads preprocessor_config.json (a path to the file or to the checkpoint folder). Understands
// size as {"shortest_edge"}, {"height","width"} or a bare int (shortest edge for CLIP-style
// processors, square otherwise), crop_size, resample (PIL code), do_* switches, rescale_factor,
// image_mean/std, and LlavaImageProcessor's do_pad (pad to a square first). Throws mvb::Error naming
// the file for a missing file or malformed values.
ImageTransform load_image_transform(const std::string& path);
ImageTransform image_transform_from_json(const nlohmann::json& cfg, const std::string& where);
// image_mean / image_std style values: a number (all channels) or a list of 3; absent or null keeps
// *out. Throws mvb::Error naming `where` and the key otherwise.
void read_rgb_triplet(const nlohmann::json& cfg, const char* key, std::array<float, 3>* out, const std::string& where);

// InternVL ------------------------------------------------------------------------------------
// InternVL's dynamic_preprocess: picks the tile grid (i x j, min_num <= i*j <= max_num) whose
// aspect ratio is closest to the image's, resizes to it with PIL bicubic and cuts image_size
// tiles, plus a whole-image thumbnail when use_thumbnail and more than one tile.
std::vector<RgbImage> internvl_dynamic_tiles(const RgbImage& img, int min_num = 1, int max_num = 12,
                                             int image_size = 448, bool use_thumbnail = true);
// The chosen (columns, rows) for square tiles of image_size.
std::pair<int, int> internvl_grid(int width, int height, int min_num, int max_num, int image_size);
// The same for tile_width x tile_height tiles: transformers' get_optimal_tiled_canvas (candidates in
// its order: columns, then rows, stable-sorted by tile count; ties in aspect-ratio distance go to the
// later candidate while the image area exceeds half the candidate's tiled area).
std::pair<int, int> internvl_grid(int width, int height, int min_num, int max_num, int tile_width, int tile_height);

// The InternVL-hf checkpoints' processor (GotOcr2ImageProcessor, which InternVLProcessor always calls
// with crop_to_patches=True): tiles of size.height x size.width, then rescale and normalise each.
struct InternVLConfig {
  int tile_height = 448;
  int tile_width = 448;
  int min_patches = 1;
  int max_patches = 12;
  // InternVLProcessor passes crop_to_patches=True whatever the config says (the -hf configs store
  // false); false means one whole-image resize to the tile size.
  bool crop_to_patches = true;
  bool use_thumbnail = true;
  std::string interpolation = "bicubic";
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  double rescale_factor = 1.0 / 255.0;
};
// Reads size {"height","width"}, min_patches, max_patches, resample, rescale_factor, image_mean/std
// (crop_to_patches is not read: see InternVLConfig). Throws mvb::Error naming `where`.
InternVLConfig internvl_config_from_json(const nlohmann::json& cfg, const std::string& where);

struct InternVLPixels {
  at::Tensor pixel_values;  // [num_patches, 3, tile_height, tile_width], float
  int64_t num_patches = 0;  // tiles plus the thumbnail
};
InternVLPixels internvl_preprocess(const RgbImage& img, const InternVLConfig& cfg);

}  // namespace mvb
