// LLaVA-1.5 and LLaVA-Med v1.5 (Mistral): config, processor and model pieces (GENERATIVE.md 1.1, 1.2).
//
// Two checkpoint layouts load into one module tree:
//   original (liuhaotian/llava-v1.5-7b, microsoft/llava-med-v1.5-mistral-7b): config.json is the text
//     model's config plus mm_* keys; weights model.* / lm_head / model.mm_projector.{0,2}; the CLIP
//     tower comes from the folder mm_vision_tower names (resolved locally, never downloaded).
//   llava-hf (LlavaForConditionalGeneration): text_config / vision_config; weights
//     language_model.{model,lm_head}.* or model.language_model.* + lm_head.*, vision_tower[.vision_model].*,
//     multi_modal_projector.linear_{1,2}.
// The processor reproduces the reference: its conversation template, tokenizer_image_token() splicing,
// expand2square (LLaVA-Med: at Python random.randint(c, c + 1)) and CLIP preprocessing.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/text/tokenizer.h"
#include "medvlmbench/vision/image.h"

namespace mvb::llava {

enum class Layout { kOriginal, kHf };
enum class Conversation { kVicunaV1, kMistralInstruct };

struct LlavaConfig {
  Layout layout = Layout::kOriginal;
  bool mistral = false;  // LLaVA-Med v1.5's text model
  nn::DecoderOptions text;
  nn::VisionTransformerOptions vision;
  int64_t vision_select_layer = -2;  // hidden_states index (mm_vision_select_layer / vision_feature_layer)
  bool drop_cls = true;              // "patch" / "default": features without the class token
  std::string projector = "mlp2x_gelu";
  nn::Activation projector_act = nn::Activation::kGelu;
  bool pad_to_square = true;       // image_aspect_ratio "pad"
  bool im_start_end = false;       // mm_use_im_start_end
  int64_t image_token_index = -1;  // llava-hf's <image> id (the placeholder transformers expands)
  int64_t max_length = 2048;       // tokenizer_model_max_length: the reference truncates the embeddings
  std::string vision_tower_id;     // mm_vision_tower as written (original layout)
  std::string vision_tower_dir;    // the resolved folder (original layout); "" for llava-hf
  ImageTransform transform;        // CLIP preprocessing (without the pad: the processor pads)
};

// Reads <dir>/config.json (and, for the original layout, the vision tower folder's config.json and
// preprocessor_config.json). Throws mvb::Error naming the file and key for bad or missing values.
LlavaConfig load_config(const std::string& dir);

// The folder mm_vision_tower names: the path as written when it exists, else <dir>/../<basename>,
// <dir>/../models/<basename>, ./models/<basename>. Throws naming the places searched and the id.
std::string resolve_vision_tower(const std::string& model_dir, const std::string& tower_id);

// The reference's prompt for one question (any "<image>" in it is removed first, then "<image>\n"
// leads the user turn when with_image).
std::string render_prompt(Conversation conv, const std::string& question, bool with_image = true,
                          bool im_start_end = false);

// LLaVA's tokenizer_image_token(): each chunk between "<image>" tokenized with special tokens, one
// leading BOS kept, `image_token_index` (-200) between chunks.
std::vector<int64_t> tokenize_with_image(const text::Tokenizer& tok, const std::string& prompt,
                                         int64_t image_token_index = -200);

// CPython's random module (MT19937, random.seed(int), randint) for LLaVA-Med's padding offset.
class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed = 0) { seed_int(seed); }
  void seed_int(uint64_t seed);  // random.seed(n) for n >= 0
  uint32_t genrand_uint32();
  uint32_t getrandbits(int k);            // 1 <= k <= 32
  int64_t randint(int64_t a, int64_t b);  // b - a < 2^32

 private:
  std::array<uint32_t, 624> mt_{};
  int index_ = 625;
};

// expand2square: the image pasted on a square of `background`, at the centre offset (W - H) // 2 along
// the short side, or at rng->randint(c, c + 1) when rng is given (LLaVA-Med; PIL paste clips).
RgbImage expand2square(const RgbImage& img, std::array<uint8_t, 3> background, PythonRandom* rng = nullptr);
// tuple(int(255 * m) for m in image_mean).
std::array<uint8_t, 3> mean_colour(const ImageTransform& t);
// The reference's process_images for one image: pad (when cfg.pad_to_square) then CLIP preprocessing.
at::Tensor process_image(const RgbImage& img, const LlavaConfig& cfg, PythonRandom* rng = nullptr);
// reference_compat "llava_double_preprocess": process_images(to_pil_image(process_images(img))), with
// to_pil_image's mul(255).byte() on the normalised float tensor.
at::Tensor process_image_twice(const RgbImage& img, const LlavaConfig& cfg, PythonRandom* rng = nullptr);

}  // namespace mvb::llava
