// A transcription of Pillow's separable convolution resampler (libImaging/Resample.c) for 8-bit
// images, and of its nearest-neighbour path (ImagingScaleAffine in Geometry.c). Coefficients are
// computed in double and quantised to 22-bit fixed point exactly as PIL does, so results match to
// the bit.
#include "medvlmbench/vision/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Filter {
  double (*fn)(double);
  double support;
};

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));  // PIL mixes float constants in
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double lanczos_filter(double x) {
  if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
  return 0.0;
}

Filter filter_for(Resample r) {
  switch (r) {
    case Resample::kBox:
      return {box_filter, 0.5};
    case Resample::kBilinear:
      return {bilinear_filter, 1.0};
    case Resample::kHamming:
      return {hamming_filter, 1.0};
    case Resample::kBicubic:
      return {bicubic_filter, 2.0};
    case Resample::kLanczos:
      return {lanczos_filter, 3.0};
    default:
      break;
  }
  throw Error("no convolution filter for nearest resampling");
}

// Per output pixel: first input index, tap count, and fixed-point weights (ksize per pixel).
struct Coeffs {
  int ksize = 0;
  std::vector<int> xmin, xcount;
  std::vector<int32_t> k;
};

Coeffs precompute_coeffs(int in_size, float in0, float in1, int out_size, const Filter& f) {
  double scale = static_cast<double>(in1 - in0) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = f.support * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.xmin.resize(out_size);
  c.xcount.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> kd(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double w = f.fn((x + xmin - center + 0.5) * ss);
      kd[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) kd[x] /= ww;
    int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x)  // normalize_coeffs_8bpc
      k[x] = kd[x] < 0 ? static_cast<int32_t>(-0.5 + kd[x] * (1 << kPrecisionBits))
                       : static_cast<int32_t>(0.5 + kd[x] * (1 << kPrecisionBits));
    c.xmin[xx] = xmin;
    c.xcount[xx] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  const int32_t s = v >> kPrecisionBits;  // arithmetic shift, as PIL's lookup table index
  return static_cast<uint8_t>(s < 0 ? 0 : (s > 255 ? 255 : s));
}

// Inner loops are plain int32 multiply-adds over contiguous bytes, which GCC vectorises; the AVX2
// clone is picked at run time where the CPU has it (integer sums are exact, so results are identical).
__attribute__((target_clones("avx2", "default"))) void resample_vertical(const uint8_t* in, int w, int ch,
                                                                         const Coeffs& c, int out_h, int row_shift,
                                                                         uint8_t* out) {
  const size_t stride = static_cast<size_t>(w) * ch;
  std::vector<int32_t> acc(stride);
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
    const int ymin = c.xmin[yy] - row_shift;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < c.xcount[yy]; ++y) {
      const uint8_t* row = in + static_cast<size_t>(ymin + y) * stride;
      const int32_t ky = k[y];
      for (size_t i = 0; i < stride; ++i) acc[i] += static_cast<int32_t>(row[i]) * ky;
    }
    uint8_t* orow = out + static_cast<size_t>(yy) * stride;
    for (size_t i = 0; i < stride; ++i) orow[i] = clip8(acc[i]);
  }
}

// Pixel transpose of a (rows x cols) RGB block: out[x][y] = in[y][x]. Tiled for cache locality.
void transpose_rgb(const uint8_t* in, int rows, int cols, uint8_t* out) {
  constexpr int kTile = 32;
  for (int y0 = 0; y0 < rows; y0 += kTile)
    for (int x0 = 0; x0 < cols; x0 += kTile) {
      const int y1 = std::min(rows, y0 + kTile), x1 = std::min(cols, x0 + kTile);
      for (int y = y0; y < y1; ++y) {
        const uint8_t* src = in + (static_cast<size_t>(y) * cols + x0) * 3;
        for (int x = x0; x < x1; ++x, src += 3) {
          uint8_t* dst = out + (static_cast<size_t>(x) * rows + y) * 3;
          dst[0] = src[0];
          dst[1] = src[1];
          dst[2] = src[2];
        }
      }
    }
}

// Image.resize(..., NEAREST): an affine scale sampling at pixel centres (ImagingScaleAffine).
RgbImage nearest(const RgbImage& img, int width, int height) {
  RgbImage out;
  out.width = width;
  out.height = height;
  out.pixels.assign(static_cast<size_t>(width) * height * 3, 0);
  const double a0 = static_cast<double>(static_cast<float>(img.width) - 0.0f) / width;
  const double a4 = static_cast<double>(static_cast<float>(img.height) - 0.0f) / height;
  std::vector<int> xin(width, -1);
  double xo = 0.0 + a0 * 0.5;
  for (int x = 0; x < width; ++x) {
    const int xi = xo < 0.0 ? -1 : static_cast<int>(xo);
    if (xi >= 0 && xi < img.width) xin[x] = xi;
    xo += a0;
  }
  double yo = 0.0 + a4 * 0.5;
  for (int y = 0; y < height; ++y) {
    const int yi = yo < 0.0 ? -1 : static_cast<int>(yo);
    if (yi >= 0 && yi < img.height) {
      const uint8_t* in = img.pixels.data() + static_cast<size_t>(yi) * img.width * 3;
      uint8_t* o = out.pixels.data() + static_cast<size_t>(y) * width * 3;
      for (int x = 0; x < width; ++x)
        if (xin[x] >= 0) std::memcpy(o + 3 * x, in + 3 * xin[x], 3);
    }
    yo += a4;
  }
  return out;
}

}  // namespace

Resample parse_resample(const std::string& name) {
  const std::string n = to_lower(name);
  if (n == "nearest") return Resample::kNearest;
  if (n == "lanczos" || n == "antialias") return Resample::kLanczos;
  if (n == "bilinear" || n == "linear") return Resample::kBilinear;
  if (n == "bicubic" || n == "cubic") return Resample::kBicubic;
  if (n == "box") return Resample::kBox;
  if (n == "hamming") return Resample::kHamming;
  throw Error("unknown resampling '" + name + "' (use bicubic, bilinear, nearest, lanczos, box or hamming)");
}

Resample resample_from_pil_code(int code) {
  MVB_CHECK(code >= 0 && code <= 5, "unknown PIL resample code ", code, " (expected 0..5)");
  return static_cast<Resample>(code);
}

const char* resample_name(Resample r) {
  switch (r) {
    case Resample::kNearest:
      return "nearest";
    case Resample::kLanczos:
      return "lanczos";
    case Resample::kBilinear:
      return "bilinear";
    case Resample::kBicubic:
      return "bicubic";
    case Resample::kBox:
      return "box";
    case Resample::kHamming:
      return "hamming";
  }
  return "?";
}

RgbImage pil_resize(const RgbImage& img, int width, int height, Resample resample) {
  MVB_CHECK(width > 0 && height > 0, "cannot resize to ", width, "x", height);
  MVB_CHECK(img.width > 0 && img.height > 0 && img.pixels.size() == static_cast<size_t>(img.width) * img.height * 3,
            "cannot resize an empty or malformed image");
  if (img.width == width && img.height == height) return img;
  if (resample == Resample::kNearest) return nearest(img, width, height);
  const Filter f = filter_for(resample);
  const bool need_h = width != img.width;
  const bool need_v = height != img.height;
  const Coeffs ch = precompute_coeffs(img.width, 0.f, static_cast<float>(img.width), width, f);
  const Coeffs cv = precompute_coeffs(img.height, 0.f, static_cast<float>(img.height), height, f);
  // Only the input rows the vertical pass reads go through the horizontal pass (as PIL does).
  const int ybox_first = cv.xmin[0];
  const int ybox_last = cv.xmin[height - 1] + cv.xcount[height - 1];
  RgbImage out;
  out.width = width;
  out.height = height;
  if (need_h) {
    const int rows = need_v ? ybox_last - ybox_first : img.height;
    const int y0 = need_v ? ybox_first : 0;
    // The horizontal pass runs as a vertical one on the transposed rows: contiguous multiply-adds
    // that vectorise, with the same integer sums as PIL's per-pixel loop (so identical output).
    std::vector<uint8_t> t_in(static_cast<size_t>(img.width) * rows * 3);
    transpose_rgb(img.pixels.data() + static_cast<size_t>(y0) * img.width * 3, rows, img.width, t_in.data());
    std::vector<uint8_t> t_out(static_cast<size_t>(width) * rows * 3);
    resample_vertical(t_in.data(), rows, 3, ch, width, 0, t_out.data());
    std::vector<uint8_t> tmp(static_cast<size_t>(width) * rows * 3);
    transpose_rgb(t_out.data(), width, rows, tmp.data());
    if (!need_v) {
      out.pixels = std::move(tmp);
      return out;
    }
    out.pixels.resize(static_cast<size_t>(width) * height * 3);
    resample_vertical(tmp.data(), width, 3, cv, height, ybox_first, out.pixels.data());
    return out;
  }
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  resample_vertical(img.pixels.data(), width, 3, cv, height, 0, out.pixels.data());
  return out;
}

}  // namespace mvb
