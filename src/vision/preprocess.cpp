// The model-input end of the image pipeline: resize + center crop computed as one window of the
// resize, then rescale + normalise into the float tensor. Per-thread buffers keep the per-image
// path free of allocations other than the returned tensor.
#include <ATen/ATen.h>

#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/resample.h"
#include "medvlmbench/vision/tensor_pool.h"

namespace mvb {
namespace {

struct Window {
  int x0 = 0, y0 = 0, width = 0, height = 0;
};

// The center crop of a width x height image as a window of it, when the crop lies inside (no zero
// padding); offsets as center_crop() computes them. False otherwise: the caller then takes the
// general path, which pads.
bool crop_window(int width, int height, const ImageTransform& t, Window* win) {
  const int cw = t.crop_width > 0 ? t.crop_width : t.crop;
  const int ch = t.crop_height > 0 ? t.crop_height : t.crop;
  if (cw <= 0 || ch <= 0) {
    *win = Window{0, 0, width, height};
    return true;
  }
  if (cw > width || ch > height) return false;
  if (t.crop_rounding == "round") {  // torchvision: round half to even of (size - crop) / 2
    *win = Window{static_cast<int>(std::nearbyint((width - cw) / 2.0)),
                  static_cast<int>(std::nearbyint((height - ch) / 2.0)), cw, ch};
  } else {
    MVB_CHECK(t.crop_rounding == "floor", "unknown crop rounding '", t.crop_rounding, "' (floor or round)");
    *win = Window{(width - cw) / 2, (height - ch) / 2, cw, ch};  // both non-negative: floor division
  }
  return true;
}

// float32(u8 * rescale_factor), then (x - mean) / std in float32, as numpy computes it, through
// one lookup table per channel; HWC bytes in, CHW floats out.
void write_normalized(const uint8_t* px, int64_t hw, const ImageTransform& t, float* out) {
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(v * t.rescale_factor);
      lut[c][v] = t.normalize ? (x - t.mean[c]) / t.std[c] : x;
    }
  float* r = out;
  float* g = out + hw;
  float* b = out + 2 * hw;
  for (int64_t i = 0; i < hw; ++i, px += 3) {
    r[i] = lut[0][px[0]];
    g[i] = lut[1][px[1]];
    b[i] = lut[2][px[2]];
  }
}

}  // namespace

at::Tensor to_normalized_tensor(const RgbImage& img, const ImageTransform& t) {
  at::Tensor out = pooled_float_tensor({3, img.height, img.width});
  write_normalized(img.pixels.data(), static_cast<int64_t>(img.width) * img.height, t, out.data_ptr<float>());
  return out;
}

at::Tensor preprocess(const RgbImage& img, const ImageTransform& t) {
  MVB_CHECK(img.width > 0 && img.height > 0, "cannot preprocess an empty image");
  // Padding to a square (LLaVA) or a crop larger than the image: the general 8-bit path.
  if (t.pad_to_square && img.width != img.height) return to_normalized_tensor(transform_pixels(img, t), t);
  const auto [rw, rh] = resized_size(img.width, img.height, t);
  Window win;
  if (!crop_window(rw, rh, t, &win)) return to_normalized_tensor(transform_pixels(img, t), t);
  thread_local std::vector<uint8_t> window_pixels;
  window_pixels.resize(static_cast<size_t>(win.width) * win.height * 3);
  pil_resize_window(RgbView{img.pixels.data(), img.width, img.height}, rw, rh, parse_resample(t.interpolation), win.x0,
                    win.y0, win.width, win.height, window_pixels.data());
  at::Tensor out = pooled_float_tensor({3, win.height, win.width});
  write_normalized(window_pixels.data(), static_cast<int64_t>(win.width) * win.height, t, out.data_ptr<float>());
  return out;
}

at::Tensor load_preprocessed(const ImageRef& ref, const ImageTransform& t) {
  thread_local RgbImage decoded;
  decode_image_into(ref, decoded);
  return preprocess(decoded, t);
}

}  // namespace mvb
