// Image resampling bit-identical to Pillow (9.x, Resample.c / Geometry.c), because every reference
// image processor resizes with PIL. cv::resize differs from PIL by several grey levels (no antialias
// support widening when downscaling, different rounding), which would shift model inputs.
#pragma once

#include <string>

#include "medvlmbench/vision/image.h"

namespace mvb {

// Values are PIL's Image.Resampling codes (as stored in preprocessor_config.json "resample").
enum class Resample { kNearest = 0, kLanczos = 1, kBilinear = 2, kBicubic = 3, kBox = 4, kHamming = 5 };

// "bicubic", "bilinear", "nearest", "lanczos", "box", "hamming" (case-insensitive); throws mvb::Error.
Resample parse_resample(const std::string& name);
// PIL integer code 0..5; throws mvb::Error for others.
Resample resample_from_pil_code(int code);
const char* resample_name(Resample r);

// PIL's Image.resize((width, height), resample) of an 8-bit RGB image (same size: a copy).
RgbImage pil_resize(const RgbImage& img, int width, int height, Resample resample);

}  // namespace mvb
