// Model-family image processors configured from a checkpoint's preprocessor_config.json, matching
// transformers' PIL-backend ("slow", use_fast=False) CLIPImageProcessor / SiglipImageProcessor /
// BlipImageProcessor / LlavaImageProcessor / Qwen2VLImageProcessor (after qwen_vl_utils) and
// GotOcr2ImageProcessor (InternVL-hf tiling) bit for bit: tests/vision/processor_parity_test.cpp
// holds them to the outputs of those classes (tests/oracles/vision/make_processor_fixtures.py).
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
// image_mean/std, and LlavaImageProcessor's do_pad (pad to a square first). Throws mvb::Error naming
// the file for a missing file or malformed values.
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
  // The reference resizes twice: qwen_vl_utils.fetch_image first (PIL, to its smart_resize with
  // factor 28 and its own pixel limits: MIN_PIXELS / MAX_PIXELS, or a message's min_pixels /
  // max_pixels), then the processor, whose smart_resize with min_pixels / max_pixels above resizes
  // again only when that changes the size (never for the published checkpoints, whose limits are
  // the same).
  int fetch_factor = 28;
  int64_t fetch_min_pixels = 4 * 28 * 28;
  int64_t fetch_max_pixels = 16384 * 28 * 28;
  // fetch_image's "resized_height"/"resized_width" (Lingshu asks for 224 x 224): when both are > 0
  // the first size is smart_resize(resized_height, resized_width) instead of the image's own.
  int resized_height = 0;
  int resized_width = 0;
};
Qwen2VLConfig qwen2vl_config_from_json(const nlohmann::json& cfg, const std::string& where);

// qwen_vl_utils' smart_resize (what the reference resizes with, before the processor, whose own
// smart_resize then keeps that size): (height, width) divisible by `factor` with the pixel count
// inside [min_pixels, max_pixels] and the aspect ratio nearly kept. Python rounding (half to even)
// is reproduced. A side shorter than factor / 2 rounds up to `factor` here (qwen_vl_utils), where
// transformers' own smart_resize would round it to 0 and rescale the whole image to min_pixels.
// Throws for aspect ratios above 200 like the reference.
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
