// Image decoding and preprocessing into model inputs.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <string>
#include <vector>

#include "medvlmbench/core/sample.h"

namespace mvb {

// 8-bit RGB, row-major HWC.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3
};

// Decodes any ImageRef (file, embedded bytes, raw pixels) to RGB exactly as the reference's
// PIL Image.open(...).convert("RGB") does: grayscale is replicated to three channels, alpha is
// dropped (not composited), 16-bit grayscale values are CLIPPED to 255 (PIL's I -> RGB conversion,
// not a rescale), 16-bit colour keeps the high byte, and EXIF orientation is ignored. Throws
// mvb::Error naming the image when it is missing or cannot be decoded.
RgbImage decode_image(const ImageRef& ref);
// The same into `out`, reusing its pixel buffer (no allocation when the size repeats).
void decode_image_into(const ImageRef& ref, RgbImage& out);

// The preprocessing of one model family, in the order Hugging Face image processors apply it:
// [pad to square] -> resize -> center crop -> rescale -> normalise. Defaults are OpenAI CLIP's.
// Build one from a checkpoint with load_image_transform() (preprocessor.h).
struct ImageTransform {
  // Resize: "shortest_edge" (shortest side to `resize`, the long side int(resize * long / short)),
  // "exact" (to resize_width x resize_height) or "none".
  std::string resize_mode = "shortest_edge";
  int resize = 224;
  int resize_width = 0;
  int resize_height = 0;
  std::string interpolation = "bicubic";  // PIL filters: bicubic | bilinear | nearest | lanczos | box | hamming
  // Center crop to crop x crop (crop_width/crop_height override when > 0); crop <= 0 disables it.
  int crop = 224;
  int crop_width = 0;
  int crop_height = 0;
  // Offsets: "floor" = (size - crop) // 2 (Hugging Face numpy), "round" = round-half-even of
  // (size - crop) / 2 (torchvision CenterCrop). Both pad with zeros when the crop is larger.
  std::string crop_rounding = "floor";
  // LLaVA's image_aspect_ratio "pad": paste onto a square of colour int(mean * 255) first.
  bool pad_to_square = false;
  double rescale_factor = 1.0 / 255.0;  // a Python float in the reference
  bool normalize = true;
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

// The 8-bit part of `t` (pad, resize, crop): what PIL would hand to ToTensor.
RgbImage transform_pixels(const RgbImage& img, const ImageTransform& t);
// Rescale and normalise an 8-bit image into float [3, H, W] (float32 arithmetic, as numpy does).
at::Tensor to_normalized_tensor(const RgbImage& img, const ImageTransform& t);
// Applies `t` and returns a float tensor [3, H, W]. When the center crop lies inside the resized
// image (the usual case), only the cropped window of the resize is computed, straight into
// per-thread buffers; the result is the same as to_normalized_tensor(transform_pixels(img, t), t).
at::Tensor preprocess(const RgbImage& img, const ImageTransform& t);
// preprocess(decode_image(ref), t) with the decoded pixels kept in a per-thread buffer: what
// data loaders should call per sample.
at::Tensor load_preprocessed(const ImageRef& ref, const ImageTransform& t);

// Building blocks.
RgbImage center_crop(const RgbImage& img, int width, int height, const std::string& rounding = "floor");
RgbImage crop_box(const RgbImage& img, int left, int top, int right, int bottom);  // PIL Image.crop (zero fill)
RgbImage expand_to_square(const RgbImage& img, std::array<uint8_t, 3> background);
// Output (width, height) of a shortest-edge resize.
std::pair<int, int> shortest_edge_size(int width, int height, int shortest_edge);
// Output (width, height) of t's resize step for a width x height image.
std::pair<int, int> resized_size(int width, int height, const ImageTransform& t);

}  // namespace mvb
