// The Qwen2-VL processor as the reference runs it (model/qwen2_vl.py, qwen25_vl.py, lingshu.py):
//   - images: qwen_vl_utils.fetch_image (PIL bicubic resize to its smart_resize, factor 28, with the
//     message's min_pixels / max_pixels or resized_height / resized_width), then
//     Qwen2VLImageProcessor (its own smart_resize, rescale, CLIP mean/std, two identical frames,
//     flattened 14 x 14 x 2 patches in 2 x 2 merge-block order);
//   - prompt: the checkpoints' ChatML chat template with its default system turn, one
//     <|vision_start|><|image_pad|><|vision_end|> per image (images before the text), each pad
//     expanded to t * h * w / merge^2 copies by Qwen2VLProcessor;
//   - positions: M-RoPE (t, h, w) as get_rope_index builds them; text continues after an image at
//     its start + max(h, w) / merge.
// tests/models/qwen2_vl_test.cpp holds each piece to transformers 5.23 + qwen_vl_utils 0.0.10.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/vision/image.h"

namespace mvb::qwen2_vl {

// preprocessor_config.json plus the reference's fetch_image settings.
struct ImageConfig {
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
  // max_pixels, which --min_pixels / --max_pixels set), then the processor, whose smart_resize with
  // min_pixels / max_pixels above resizes again only when that changes the size (never for the
  // published checkpoints, whose limits are the same).
  int fetch_factor = 28;
  int64_t fetch_min_pixels = 4 * 28 * 28;
  int64_t fetch_max_pixels = 16384 * 28 * 28;
  // fetch_image's "resized_height"/"resized_width" (Lingshu asks for 224 x 224): when both are > 0
  // the first size is smart_resize(resized_height, resized_width) instead of the image's own.
  int resized_height = 0;
  int resized_width = 0;
};
// Throws mvb::Error naming `where` for malformed values.
ImageConfig image_config_from_json(const nlohmann::json& cfg, const std::string& where);
ImageConfig load_image_config(const std::string& model_dir);  // <model_dir>/preprocessor_config.json

// qwen_vl_utils' smart_resize: (height, width) divisible by `factor` with the pixel count inside
// [min_pixels, max_pixels] and the aspect ratio nearly kept. Python rounding (half to even) is
// reproduced. A side shorter than factor / 2 rounds up to `factor` here (qwen_vl_utils), where
// transformers' own smart_resize would round it to 0 and rescale the whole image to min_pixels.
// Throws for aspect ratios above 200 like the reference.
std::pair<int, int> smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels);

struct Pixels {
  at::Tensor patches;                 // [grid_t * grid_h * grid_w, 3 * temporal * patch * patch], float
  std::array<int64_t, 3> grid_thw{};  // image_grid_thw
};
Pixels preprocess_image(const RgbImage& img, const ImageConfig& cfg);

// The number of <|image_pad|> tokens (and merged vision tokens) of one image.
int64_t image_token_count(const std::array<int64_t, 3>& grid_thw, int64_t merge_size);

// The prompt apply_chat_template(add_generation_prompt=True) renders for one user turn holding
// `image_tokens.size()` images then `question`, with every image pad already expanded to its count.
// An empty `system_prompt` gives the template's default system turn ("You are a helpful assistant.").
std::string render_prompt(const std::string& question, const std::vector<int64_t>& image_tokens,
                          const std::string& system_prompt = "");

// M-RoPE positions of one image's merged tokens relative to the image's first position: [3, t*h*w/m^2]
// rows (t, row, column), as get_rope_index lays them out.
at::Tensor image_relative_positions(const std::array<int64_t, 3>& grid_thw, int64_t merge_size);

// get_rope_index for one unpadded prompt: `input_ids` with runs of `image_token_id` (one run per image,
// in `grids` order) -> [3, L] int64 positions and the rope delta (max + 1 - L) decoding adds.
std::pair<at::Tensor, int64_t> rope_index(const std::vector<int64_t>& input_ids, int64_t image_token_id,
                                          const std::vector<std::array<int64_t, 3>>& grids, int64_t merge_size);

}  // namespace mvb::qwen2_vl
