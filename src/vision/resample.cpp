// A transcription of Pillow's separable convolution resampler (libImaging/Resample.c) for 8-bit
// images, and of its nearest-neighbour path (ImagingScaleAffine in Geometry.c). Coefficients are
// computed in double and quantised to 22-bit fixed point exactly as PIL does, so results match to
// the bit. The integer sums are PIL's; only their layout differs (row blocks, windows, vector
// lanes), which is what makes it several times faster than PIL's per-pixel loops.
#include "medvlmbench/vision/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
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

// Coefficients depend only on (input size, output size, filter), and a dataset resizes the same
// sizes over and over: each thread keeps the last few instead of recomputing them per image.
// Shared pointers, so a caller's coefficients survive an eviction by its own next lookup.
std::shared_ptr<const Coeffs> cached_coeffs(int in_size, int out_size, Resample r) {
  struct Entry {
    int in_size, out_size;
    Resample r;
    std::shared_ptr<const Coeffs> c;
  };
  constexpr size_t kEntries = 8;
  thread_local std::vector<Entry> cache;
  thread_local size_t next_victim = 0;
  for (const Entry& e : cache)
    if (e.in_size == in_size && e.out_size == out_size && e.r == r) return e.c;
  Entry e{in_size, out_size, r,
          std::make_shared<const Coeffs>(
              precompute_coeffs(in_size, 0.f, static_cast<float>(in_size), out_size, filter_for(r)))};
  if (cache.size() < kEntries) {
    cache.push_back(e);
  } else {
    cache[next_victim] = e;
    next_victim = (next_victim + 1) % kEntries;
  }
  return e.c;
}

// The multiply-add at the heart of both passes: dst[i] = clip8(round + sum_t src[t * step + i] * k[t])
// for kN lanes, with the accumulators in registers across taps. Always inlined, so each
// target_clones caller below compiles it for its own instruction set.
template <int kN>
__attribute__((always_inline)) inline void mac_lanes(const uint8_t* src, size_t step, const int32_t* k, int taps,
                                                     uint8_t* dst) {
  int32_t acc[kN];
  for (int i = 0; i < kN; ++i) acc[i] = 1 << (kPrecisionBits - 1);
  for (int t = 0; t < taps; ++t, src += step) {
    const int32_t kt = k[t];
    for (int i = 0; i < kN; ++i) acc[i] += static_cast<int32_t>(src[i]) * kt;
  }
  for (int i = 0; i < kN; ++i) dst[i] = clip8(acc[i]);
}

// PIL's vertical pass for output rows [first, first + rows): out row i = sum over taps of input
// rows. `in` points at input row `in_row0`; each row has `row_bytes` used bytes, `in_stride` apart.
// Integer sums are exact, so vectorising (the x86-64-v4 / AVX2 clones are picked at run time)
// gives PIL's results.
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void vertical_pass(const uint8_t* in,
                                                                                       size_t in_stride, int in_row0,
                                                                                       int row_bytes, const Coeffs& c,
                                                                                       int first, int rows,
                                                                                       uint8_t* out) {
  constexpr int kChunk = 64;
  for (int yy = 0; yy < rows; ++yy) {
    const int32_t* k = &c.k[static_cast<size_t>(first + yy) * c.ksize];
    const uint8_t* top = in + static_cast<size_t>(c.xmin[first + yy] - in_row0) * in_stride;
    const int taps = c.xcount[first + yy];
    uint8_t* orow = out + static_cast<size_t>(yy) * row_bytes;
    int i = 0;
    for (; i + kChunk <= row_bytes; i += kChunk) mac_lanes<kChunk>(top + i, in_stride, k, taps, orow + i);
    for (; i + 8 <= row_bytes; i += 8) mac_lanes<8>(top + i, in_stride, k, taps, orow + i);
    for (; i < row_bytes; ++i) mac_lanes<1>(top + i, in_stride, k, taps, orow + i);
  }
}

// PIL's horizontal pass for output columns [first, first + cols) of input rows [0, rows), written
// as rows of cols * 3 bytes. Taps along a row are 3 bytes apart, which does not vectorise; so
// blocks of kBlockRows rows are transposed into a small column-major tile (L1-resident), where one
// tap becomes a contiguous multiply-add over kLanes bytes, the same shape as the vertical
// pass. Same integer sums as PIL's per-pixel loop, so identical output.
// 21 rows fill 63 of 64 lanes: a multiple of the vector width (the 64th lane is computed and dropped).
constexpr int kBlockRows = 21;
constexpr int kLanes = 64;
// A tile column holds one pixel per row (3 bytes each) in kLanes bytes; pixels are moved with one
// 4-byte copy each (the fourth byte lands in the next row's slot, or in the spare lane, and is
// overwritten or unused).
constexpr int kTileStride = kLanes;

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void horizontal_block(const uint8_t* tile,
                                                                                          int tile_x0, const Coeffs& c,
                                                                                          int first, int cols,
                                                                                          int block_rows, uint8_t* out,
                                                                                          size_t out_stride) {
  alignas(64) uint8_t px[kLanes];
  for (int xx = 0; xx < cols; ++xx) {
    const uint8_t* col = tile + static_cast<size_t>(c.xmin[first + xx] - tile_x0) * kTileStride;
    mac_lanes<kLanes>(col, kTileStride, &c.k[static_cast<size_t>(first + xx) * c.ksize], c.xcount[first + xx], px);
    uint8_t* o = out + static_cast<size_t>(xx) * 3;
    // 4-byte stores: the extra byte is the next output pixel's, written on the next iteration;
    // the last column must not spill into the following row.
    if (xx + 1 < cols) {
      for (int r = 0; r < block_rows; ++r) std::memcpy(o + r * out_stride, px + 3 * r, 4);
    } else {
      for (int r = 0; r < block_rows; ++r) std::memcpy(o + r * out_stride, px + 3 * r, 3);
    }
  }
}

void horizontal_pass(const uint8_t* in, size_t in_stride, int rows, const Coeffs& c, int first, int cols,
                     uint8_t* out) {
  const int x_lo = c.xmin[first];
  const int x_hi = c.xmin[first + cols - 1] + c.xcount[first + cols - 1];
  thread_local std::vector<uint8_t> tile;
  tile.resize(static_cast<size_t>(x_hi - x_lo) * kTileStride);
  const size_t out_stride = static_cast<size_t>(cols) * 3;
  for (int r0 = 0; r0 < rows; r0 += kBlockRows) {
    const int n = std::min(kBlockRows, rows - r0);
    for (int r = 0; r < n; ++r) {
      const uint8_t* src = in + static_cast<size_t>(r0 + r) * in_stride + static_cast<size_t>(x_lo) * 3;
      uint8_t* dst = tile.data() + 3 * r;
      // 4-byte copies read one byte of the next pixel, so the last pixel of the range (possibly
      // the last of the image) is copied with 3.
      for (int x = x_lo; x + 1 < x_hi; ++x, src += 3, dst += kTileStride) std::memcpy(dst, src, 4);
      std::memcpy(dst, src, 3);
    }
    horizontal_block(tile.data(), x_lo, c, first, cols, n, out + static_cast<size_t>(r0) * out_stride, out_stride);
  }
}

// Image.resize(..., NEAREST): an affine scale sampling at pixel centres (ImagingScaleAffine);
// writes the [x0, x0 + out_w) x [y0, y0 + out_h) window.
void nearest_window(RgbView in, int width, int height, int x0, int y0, int out_w, int out_h, uint8_t* out) {
  const double a0 = static_cast<double>(static_cast<float>(in.width) - 0.0f) / width;
  const double a4 = static_cast<double>(static_cast<float>(in.height) - 0.0f) / height;
  std::vector<int> xin(width);
  double xo = 0.0 + a0 * 0.5;
  for (int x = 0; x < width; ++x, xo += a0) {
    const int xi = xo < 0.0 ? -1 : static_cast<int>(xo);
    xin[x] = xi < in.width ? xi : -1;
  }
  double yo = 0.0 + a4 * 0.5;
  for (int y = 0; y < y0; ++y) yo += a4;
  for (int y = 0; y < out_h; ++y, yo += a4) {
    uint8_t* o = out + static_cast<size_t>(y) * out_w * 3;
    const int yi = yo < 0.0 ? -1 : static_cast<int>(yo);
    if (yi < 0 || yi >= in.height) {
      std::memset(o, 0, static_cast<size_t>(out_w) * 3);
      continue;
    }
    const uint8_t* row = in.data + static_cast<size_t>(yi) * in.width * 3;
    for (int x = 0; x < out_w; ++x) {
      const int xi = xin[x0 + x];
      if (xi >= 0)
        std::memcpy(o + 3 * x, row + 3 * xi, 3);
      else
        std::memset(o + 3 * x, 0, 3);
    }
  }
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

void pil_resize_window(RgbView in, int width, int height, Resample resample, int x0, int y0, int out_w, int out_h,
                       uint8_t* out) {
  MVB_CHECK(width > 0 && height > 0, "cannot resize to ", width, "x", height);
  MVB_CHECK(in.width > 0 && in.height > 0 && in.data, "cannot resize an empty image");
  MVB_CHECK(x0 >= 0 && y0 >= 0 && out_w > 0 && out_h > 0 && x0 + out_w <= width && y0 + out_h <= height,
            "resize window outside the ", width, "x", height, " output");
  const size_t in_stride = static_cast<size_t>(in.width) * 3;
  const size_t out_stride = static_cast<size_t>(out_w) * 3;
  if (resample == Resample::kNearest && (width != in.width || height != in.height))
    return nearest_window(in, width, height, x0, y0, out_w, out_h, out);
  const bool need_h = width != in.width;
  const bool need_v = height != in.height;
  if (!need_h && !need_v) {
    for (int y = 0; y < out_h; ++y)
      std::memcpy(out + y * out_stride, in.data + (y0 + y) * in_stride + static_cast<size_t>(x0) * 3, out_stride);
    return;
  }
  if (!need_v) {
    const auto ch = cached_coeffs(in.width, width, resample);
    horizontal_pass(in.data + y0 * in_stride, in_stride, out_h, *ch, x0, out_w, out);
    return;
  }
  const auto cv = cached_coeffs(in.height, height, resample);
  if (!need_h) {
    vertical_pass(in.data + static_cast<size_t>(x0) * 3, in_stride, 0, static_cast<int>(out_stride), *cv, y0, out_h,
                  out);
    return;
  }
  // Horizontal first, then vertical, as PIL does (the 8-bit intermediate is part of its result);
  // only the input rows the wanted output rows read go through the horizontal pass.
  const auto ch = cached_coeffs(in.width, width, resample);
  const int row_first = cv->xmin[y0];
  const int row_last = cv->xmin[y0 + out_h - 1] + cv->xcount[y0 + out_h - 1];
  thread_local std::vector<uint8_t> mid;
  mid.resize(static_cast<size_t>(row_last - row_first) * out_stride);
  horizontal_pass(in.data + row_first * in_stride, in_stride, row_last - row_first, *ch, x0, out_w, mid.data());
  vertical_pass(mid.data(), out_stride, row_first, static_cast<int>(out_stride), *cv, y0, out_h, out);
}

RgbImage pil_resize(const RgbImage& img, int width, int height, Resample resample) {
  MVB_CHECK(width > 0 && height > 0, "cannot resize to ", width, "x", height);
  MVB_CHECK(img.width > 0 && img.height > 0 && img.pixels.size() == static_cast<size_t>(img.width) * img.height * 3,
            "cannot resize an empty or malformed image");
  RgbImage out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  pil_resize_window(RgbView{img.pixels.data(), img.width, img.height}, width, height, resample, 0, 0, width, height,
                    out.pixels.data());
  return out;
}

}  // namespace mvb
