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

// Decodes any ImageRef (file, embedded bytes, raw pixels) to RGB. Grayscale becomes RGB by channel
// replication as PIL's convert("RGB") does; 16-bit images are scaled to 8 bits. Throws mvb::Error
// naming the image when it is missing or cannot be decoded.
RgbImage decode_image(const ImageRef& ref);

// A CLIP-style transform: resize the shortest side to `resize`, center-crop `crop`, scale to [0,1],
// normalise with mean/std.
struct ImageTransform {
  int resize = 224;
  int crop = 224;
  std::string interpolation = "bicubic";  // bicubic | bilinear | nearest
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

// Applies `t` and returns a float tensor [3, crop, crop].
at::Tensor preprocess(const RgbImage& img, const ImageTransform& t);

}  // namespace mvb
