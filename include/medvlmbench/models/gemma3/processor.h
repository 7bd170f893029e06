// Gemma3Processor as the reference runs it (model/gemma3.py, model/medgemma.py; transformers 4.53 loads the
// slow Gemma3ImageProcessor):
//   - images: RGB, PIL resize to size.height x size.width (896 x 896, bilinear, aspect ratio not kept),
//     rescale 1/255, normalise with mean = std = 0.5; pan-and-scan off (a config asking for it is refused);
//   - prompt: the published chat template (an optional system turn folded into the first user turn as
//     "{system}\n\n", every image's <start_of_image> before the text, the text `| trim`med, then
//     "<start_of_turn>model\n"), each <start_of_image> expanded to
//     "\n\n<start_of_image>" + image_seq_length x <image_soft_token> + "<end_of_image>\n\n";
//   - MedGemma (model/medgemma.py, Nanboy-Ronan/MedVLMBench 6a7142b): several images composited into one
//     896 x 896 panel; its prompt-fit helpers (middle truncation by characters) are here, the budget
//     logic in model.cpp.
// tests/models/gemma3_test.cpp holds each piece to transformers 5.23 (tests/oracles/models/make_gemma3_fixtures.py).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/resample.h"

namespace mvb::gemma3 {

// preprocessor_config.json (Gemma3ImageProcessor) + processor_config.json (image_seq_length).
struct ImageConfig {
  int height = 224, width = 224;  // Gemma3ImageProcessor's class default; the checkpoints say 896
  Resample resample = Resample::kBilinear;
  bool do_resize = true, do_rescale = true, do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f};
  std::array<float, 3> std{0.5f, 0.5f, 0.5f};
  int64_t image_seq_length = 256;
};
// Throws mvb::Error naming the file for malformed values and for do_pan_and_scan = true.
ImageConfig load_image_config(const std::string& model_dir);

// [3, height, width] float32 pixel_values of one image.
at::Tensor preprocess_image(const RgbImage& img, const ImageConfig& cfg);

// processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) for messages
// [system (when non-empty)], user [image x n_images, text]: the text before image expansion.
std::string render_prompt(const std::string& question, int n_images, const std::string& system_prompt = "");
// Gemma3Processor's expansion of every <start_of_image> in `rendered`.
std::string expand_image_tokens(const std::string& rendered, int64_t image_seq_length);

// MedGemma's _compose_image_panel: one panel_size^2 black canvas, a grid of ceil(sqrt(n)) columns with
// `padding` pixels around cells, each image shrunk (never enlarged) by PIL's thumbnail with LANCZOS and
// centred in its cell. One image is returned as is.
RgbImage compose_panel(const std::vector<RgbImage>& images, int panel_size = 896, int padding = 8);
// PIL Image.thumbnail's size for a width x height image in a max_w x max_h box (aspect kept, at least 1).
std::pair<int, int> thumbnail_size(int width, int height, int max_w, int max_h);
// MedGemma's _truncate_text_middle over Unicode code points (Python's len / slicing): the head and tail
// around "\n[... truncated ...]\n", or the last max_chars when that leaves 8 or fewer characters.
std::string truncate_text_middle(const std::string& text, size_t max_chars);
// Python len(str) of UTF-8 text.
size_t code_point_count(const std::string& text);

}  // namespace mvb::gemma3
