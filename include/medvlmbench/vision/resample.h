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

// A read-only view of 8-bit RGB pixels, rows contiguous (width * 3 bytes each).
struct RgbView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
};

// PIL's Image.resize((width, height), resample) of an 8-bit RGB image (same size: a copy).
RgbImage pil_resize(const RgbImage& img, int width, int height, Resample resample);

// The window [x0, x0 + out_w) x [y0, y0 + out_h) of pil_resize(in, width, height, resample), written
// to `out` (out_w * out_h * 3 bytes). Only the window is computed, so a resize followed by a center
// crop costs no more than the crop; each output pixel is the one PIL computes. Scratch memory and
// filter coefficients are kept per thread, so repeated calls allocate nothing.
void pil_resize_window(RgbView in, int width, int height, Resample resample, int x0, int y0, int out_w, int out_h,
                       uint8_t* out);

}  // namespace mvb
