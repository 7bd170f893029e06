#include "medvlmbench/models/internvl/processor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::internvl {
namespace {

// PyTorch's antialias filters (aten/src/ATen/native/cpu/UpSampleKernel.cpp, HelperInterpCubic /
// HelperInterpLinear::aa_filter): Keys' cubic with a = -0.5 (as PIL), and the triangle.
double cubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}
double linear_filter(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// One axis' taps: for output i, input [xmin, xmin + size) with int16 weights at `precision` bits
// (_compute_indices_int16_weights_aa with align_corners false and antialias true).
struct Taps {
  std::vector<int> xmin, size;
  std::vector<int16_t> weights;  // [out, max_taps]
  int max_taps = 0;
  int precision = 0;
};

Taps compute_taps(int in_size, int out_size, bool cubic) {
  const double interp_size = cubic ? 4.0 : 2.0;
  const double scale = static_cast<double>(in_size) / out_size;  // area_pixel_compute_scale
  const double support = scale >= 1.0 ? interp_size * 0.5 * scale : interp_size * 0.5;
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  Taps t;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  std::vector<double> w(static_cast<size_t>(out_size) * t.max_taps, 0.0);
  t.xmin.resize(out_size);
  t.size.resize(out_size);
  for (int i = 0; i < out_size; ++i) {
    const double center = scale * (i + 0.5);
    const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t xsize = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size) - xmin;
    double* wi = w.data() + static_cast<size_t>(i) * t.max_taps;
    double total = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      const double x = (static_cast<double>(j + xmin) - center + 0.5) * invscale;
      wi[j] = cubic ? cubic_filter(x) : linear_filter(x);
      total += wi[j];
    }
    if (total != 0.0)
      for (int64_t j = 0; j < xsize; ++j) wi[j] /= total;
    t.xmin[i] = static_cast<int>(xmin);
    t.size[i] = static_cast<int>(xsize);
  }
  // The largest precision (< 22 bits) at which the largest weight still fits int16.
  double w_max = w[0];
  for (double v : w) w_max = std::max(w_max, v);
  int p = 0;
  for (p = 0; p < 22; ++p) {
    const int next = static_cast<int>(0.5 + w_max * (1 << (p + 1)));
    if (next >= (1 << 15)) break;
  }
  t.precision = p;
  t.weights.resize(w.size());
  for (size_t k = 0; k < w.size(); ++k)
    t.weights[k] = static_cast<int16_t>(static_cast<int>((w[k] < 0 ? -0.5 : 0.5) + w[k] * (1 << p)));
  return t;
}

// One pass along x (horizontal) or y over an interleaved RGB image.
RgbImage resample_pass(const RgbImage& in, int out_size, bool horizontal, bool cubic) {
  const int in_size = horizontal ? in.width : in.height;
  const Taps t = compute_taps(in_size, out_size, cubic);
  RgbImage out;
  out.width = horizontal ? out_size : in.width;
  out.height = horizontal ? in.height : out_size;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
  const int32_t half = t.precision > 0 ? (1 << (t.precision - 1)) : 0;
  const size_t step = horizontal ? 3 : static_cast<size_t>(in.width) * 3;  // bytes between taps
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const int i = horizontal ? x : y;
      const int16_t* k = t.weights.data() + static_cast<size_t>(i) * t.max_taps;
      const size_t base = horizontal ? (static_cast<size_t>(y) * in.width + t.xmin[i]) * 3
                                     : (static_cast<size_t>(t.xmin[i]) * in.width + x) * 3;
      for (int c = 0; c < 3; ++c) {
        int32_t s = half;
        const uint8_t* p = in.pixels.data() + base + c;
        for (int j = 0; j < t.size[i]; ++j) s += static_cast<int32_t>(p[j * step]) * k[j];
        s >>= t.precision;  // arithmetic shift, as _mm_srai_epi32
        out.pixels[(static_cast<size_t>(y) * out.width + x) * 3 + c] = static_cast<uint8_t>(std::clamp(s, 0, 255));
      }
    }
  }
  return out;
}

RgbImage crop(const RgbImage& img, int x0, int y0, int w, int h) {
  RgbImage out;
  out.width = w;
  out.height = h;
  out.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * w * 3,
                img.pixels.data() + (static_cast<size_t>(y0 + y) * img.width + x0) * 3, static_cast<size_t>(w) * 3);
  return out;
}

bool flag(const nlohmann::json& cfg, const char* key, bool fallback, const std::string& where) {
  return nn::hf::get_bool(cfg, key, fallback, where);
}

}  // namespace

RgbImage torchvision_resize(const RgbImage& img, int width, int height, Resample resample) {
  MVB_CHECK(resample == Resample::kBicubic || resample == Resample::kBilinear,
            "torchvision uint8 resize is implemented for bicubic and bilinear only (got ", resample_name(resample),
            ")");
  MVB_CHECK(img.width > 0 && img.height > 0 && width > 0 && height > 0, "resize of an empty image");
  const bool cubic = resample == Resample::kBicubic;
  RgbImage out = img;
  if (width != img.width) out = resample_pass(out, width, /*horizontal=*/true, cubic);
  if (height != img.height) out = resample_pass(out, height, /*horizontal=*/false, cubic);
  return out;
}

ImageConfig image_config_from_json(const nlohmann::json& cfg, const std::string& where) {
  ImageConfig c;
  c.tiling = internvl_config_from_json(cfg, where);
  c.processor_type = nn::hf::get_string(cfg, "image_processor_type", "GotOcr2ImageProcessorFast", where);
  MVB_CHECK(c.processor_type.rfind("GotOcr2ImageProcessor", 0) == 0, where, ": image_processor_type \"",
            c.processor_type, "\" is not GotOcr2ImageProcessor(Fast), the InternVL -hf image processor");
  // transformers 4.53.1's AutoImageProcessor loads the fast class when the saved type names it.
  c.fast = c.processor_type.size() >= 4 && c.processor_type.compare(c.processor_type.size() - 4, 4, "Fast") == 0;
  MVB_CHECK(flag(cfg, "do_resize", true, where), where, ": do_resize false is not implemented (tiles need a resize)");
  MVB_CHECK(flag(cfg, "do_normalize", true, where), where, ": do_normalize false is not implemented");
  MVB_CHECK(!flag(cfg, "do_center_crop", false, where), where, ": do_center_crop true is not implemented");
  MVB_CHECK(c.tiling.min_patches >= 1, where, ": min_patches must be at least 1");
  if (c.fast) {
    const Resample r = parse_resample(c.tiling.interpolation);
    MVB_CHECK(r == Resample::kBicubic || r == Resample::kBilinear, where, ": resample ", c.tiling.interpolation,
              " is not implemented for the torchvision (Fast) processor (bicubic 3, bilinear 2)");
  }
  return c;
}

ImageConfig load_image_config(const std::string& model_dir) {
  const std::string file = io::join_path(model_dir, "preprocessor_config.json");
  MVB_CHECK(io::exists(file), "missing ", file,
            "; the InternVL -hf checkpoint folder needs its preprocessor_config.json");
  return image_config_from_json(io::read_json(file), file);
}

Pixels preprocess_image(const RgbImage& img, const ImageConfig& cfg) {
  Pixels out;
  if (!cfg.fast) {
    const InternVLPixels p = internvl_preprocess(img, cfg.tiling);
    out.pixel_values = p.pixel_values;
    out.num_patches = p.num_patches;
    return out;
  }
  MVB_CHECK(img.width > 0 && img.height > 0, "cannot preprocess an empty image");
  const auto& t = cfg.tiling;
  const int tw = t.tile_width, th = t.tile_height;
  const Resample r = parse_resample(t.interpolation);
  // GotOcr2ImageProcessorFast.crop_image_to_patches (InternVLProcessor passes crop_to_patches=True).
  const auto [cols, rows] = internvl_grid(img.width, img.height, t.min_patches, t.max_patches, tw, th);
  const RgbImage canvas = torchvision_resize(img, tw * cols, th * rows, r);
  std::vector<RgbImage> tiles;
  for (int i = 0; i < cols * rows; ++i) tiles.push_back(crop(canvas, (i % cols) * tw, (i / cols) * th, tw, th));
  if (tiles.size() != 1) tiles.push_back(torchvision_resize(img, tw, th, r));
  // The fused rescale + normalise: mean and std as float32 tensors times 1 / rescale_factor (in float32),
  // then (x - mean) / std in float32. A table of the 256 values per channel.
  const float inv = static_cast<float>(1.0 / t.rescale_factor);
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    const float m = t.mean[c] * inv, s = t.std[c] * inv;
    for (int v = 0; v < 256; ++v) lut[c][v] = (static_cast<float>(v) - m) / s;
  }
  out.num_patches = static_cast<int64_t>(tiles.size());
  out.pixel_values = at::empty({out.num_patches, 3, th, tw}, at::kFloat);
  float* dst = out.pixel_values.data_ptr<float>();
  const size_t plane = static_cast<size_t>(th) * tw;
  for (size_t k = 0; k < tiles.size(); ++k) {
    const uint8_t* src = tiles[k].pixels.data();
    float* d = dst + k * 3 * plane;
    for (size_t i = 0; i < plane; ++i)
      for (int c = 0; c < 3; ++c) d[c * plane + i] = lut[c][src[i * 3 + c]];
  }
  return out;
}

std::string render_prompt(const std::string& question, const std::vector<int64_t>& tiles, int64_t image_seq_length,
                          const std::string& system_prompt) {
  // The -hf chat template: one "<|im_start|>role\n...<|im_end|>\n" per message, an image as
  // "<IMG_CONTEXT>\n", text as written, then the generation prompt. InternVLProcessor replaces each
  // <IMG_CONTEXT> with <img> + image_seq_length * tiles <IMG_CONTEXT> + </img>.
  std::string s;
  if (!system_prompt.empty()) s += "<|im_start|>system\n" + system_prompt + "<|im_end|>\n";
  s += "<|im_start|>user\n";
  for (const int64_t n : tiles) {
    s += "<img>";
    for (int64_t i = 0; i < n * image_seq_length; ++i) s += "<IMG_CONTEXT>";
    s += "</img>\n";
  }
  s += question + "<|im_end|>\n<|im_start|>assistant\n";
  return s;
}

}  // namespace mvb::internvl
