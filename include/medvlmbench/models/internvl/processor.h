// The InternVL -hf processor as the reference runs it (model/internvl.py: AutoProcessor, then
// apply_chat_template(tokenize=True) over [{"role": "user", "content": [image..., text]}]):
//   - images: GotOcr2ImageProcessorFast (the -hf preprocessor_config.json names it, and transformers
//     4.53.1 loads the class named there): crop_to_patches (InternVLProcessor always passes True) picks
//     the tile grid by closest aspect ratio among min_patches..max_patches tiles, resizes the uint8 image
//     to the grid with torchvision's antialiased bicubic (PyTorch's uint8 CPU kernel, integer weights, a
//     Pillow-SIMD port that is not bit-identical to PIL), cuts tiles row by row, adds a thumbnail (the
//     whole image resized to one tile) when there is more than one tile, then the fused rescale +
//     normalise ((x - mean / rescale) / (std / rescale) in float32). A config naming the slow
//     GotOcr2ImageProcessor runs the PIL path instead (vision/preprocessor.h internvl_preprocess);
//   - prompt: the -hf chat template (no default system turn; "<IMG_CONTEXT>\n" per image before the text),
//     each <IMG_CONTEXT> expanded by InternVLProcessor to <img> + image_seq_length x tiles <IMG_CONTEXT> + </img>.
// tests/models/internvl_test.cpp holds each piece to transformers (5.23, and 4.53.1 for the processor).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/preprocessor.h"
#include "medvlmbench/vision/resample.h"

namespace mvb::internvl {

struct ImageConfig {
  mvb::InternVLConfig tiling;  // tile size, min / max patches, resample, mean / std, rescale_factor
  bool fast = true;            // image_processor_type GotOcr2ImageProcessorFast (torchvision resize)
  std::string processor_type = "GotOcr2ImageProcessorFast";
};
// preprocessor_config.json; refuses do_resize / do_normalize false, do_center_crop true and resample
// filters other than bicubic / bilinear on the fast path, naming the key. Throws mvb::Error naming `where`.
ImageConfig image_config_from_json(const nlohmann::json& cfg, const std::string& where);
ImageConfig load_image_config(const std::string& model_dir);

// torchvision.transforms.v2.functional.resize(uint8 CHW tensor, [height, width], BICUBIC or BILINEAR,
// antialias=True) on the CPU: PyTorch's uint8 kernel (horizontal pass then vertical, int16 weights at
// the precision their largest value allows, rounding and clamping to 8 bits after each pass).
RgbImage torchvision_resize(const RgbImage& img, int width, int height, Resample resample);

struct Pixels {
  at::Tensor pixel_values;  // [tiles, 3, tile_height, tile_width] float32
  int64_t num_patches = 0;  // tiles, thumbnail included
};
Pixels preprocess_image(const RgbImage& img, const ImageConfig& cfg);

// The text apply_chat_template(add_generation_prompt=True) renders for one user turn holding one
// image per entry of `tiles` (tile counts) then `question`, with InternVLProcessor's expansion done
// (image_seq_length <IMG_CONTEXT> per tile). A non-empty `system_prompt` adds a system turn first, as
// the template renders a system message.
std::string render_prompt(const std::string& question, const std::vector<int64_t>& tiles, int64_t image_seq_length,
                          const std::string& system_prompt = "");

}  // namespace mvb::internvl
