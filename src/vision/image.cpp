#include "medvlmbench/vision/image.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/vision/image_header.h"
#include "medvlmbench/vision/jpeg_decoder.h"
#include "medvlmbench/vision/resample.h"

namespace mvb {
namespace {

// Converts a decoded Mat (OpenCV's BGR order) to 8-bit RGB the way PIL's convert("RGB") would
// treat the same file.
void from_mat(const cv::Mat& in, const std::string& name, RgbImage& out) {
  MVB_CHECK(!in.empty(), "cannot decode image ", name, ": not a readable PNG/JPEG/TIFF/BMP file");
  cv::Mat m = in;
  if (m.depth() == CV_16U) {
    if (m.channels() == 1) {
      // PIL opens 16-bit grayscale as mode I/I;16, and I -> RGB clips to 0..255 (no rescale).
      m.convertTo(m, CV_8U);  // saturate_cast clips
    } else {
      // PIL reads 16-bit-per-channel colour PNGs as 8-bit RGB(A) from the high byte.
      // (convertTo would round; PIL truncates, hence the explicit shift.)
      std::vector<cv::Mat> planes;
      cv::split(m, planes);
      for (auto& p : planes) {
        cv::Mat shifted(p.rows, p.cols, CV_8U);
        for (int y = 0; y < p.rows; ++y)
          for (int x = 0; x < p.cols; ++x) shifted.at<uint8_t>(y, x) = static_cast<uint8_t>(p.at<uint16_t>(y, x) >> 8);
        p = shifted;
      }
      cv::merge(planes, m);
    }
  } else if (m.depth() != CV_8U) {
    // Float TIFFs (mode F in PIL) convert by clipping too.
    cv::Mat tmp;
    m.convertTo(tmp, CV_8U);
    m = tmp;
  }
  // Channel reordering by hand rather than cv::cvtColor: one pass, no intermediate Mat, and no
  // OpenCV worker threads competing with the prefetcher's.
  const int ch = m.channels();
  MVB_CHECK(ch == 1 || ch == 3 || ch == 4, "cannot decode image ", name, ": unsupported channel count ", ch);
  out.width = m.cols;
  out.height = m.rows;
  out.pixels.resize(static_cast<size_t>(m.cols) * m.rows * 3);
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* src = m.ptr<uint8_t>(y);
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * m.cols * 3;
    if (ch == 1) {
      for (int x = 0; x < m.cols; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
    } else {  // BGR(A) -> RGB; PIL's convert("RGB") drops alpha without compositing
      for (int x = 0; x < m.cols; ++x, src += ch) {
        dst[3 * x] = src[2];
        dst[3 * x + 1] = src[1];
        dst[3 * x + 2] = src[0];
      }
    }
  }
}

// Reads a whole file into `buf`, reusing its capacity (no stream copies: this runs per image).
// fopen() opens a directory too, and its "size" from fseek/ftell is LONG_MAX on ext4: a dataset row
// naming a folder (SLAKE's "xmlab0" for "xmlab0/source.jpg") must be refused by name, not reach
// buf.resize() and surface as std::length_error's "basic_string::_M_replace_aux".
void read_file_into(const std::string& path, std::string& buf) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  MVB_CHECK(f, "cannot read image ", path, ": ", std::strerror(errno), "; check the file's permissions");
  struct stat st {};
  const bool stat_ok = ::fstat(::fileno(f), &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    const int err = errno;
    std::fclose(f);
    MVB_CHECK(stat_ok, "cannot read image ", path, ": ", std::strerror(err));
    MVB_CHECK(!S_ISDIR(st.st_mode), "image ", path,
              " is a directory, not an image file; check --image_path and the dataset's image names");
    throw Error("image " + path + " is not a regular file; point the dataset at the image file itself");
  }
  buf.resize(static_cast<size_t>(st.st_size));
  const size_t got = buf.empty() ? 0 : std::fread(buf.data(), 1, buf.size(), f);
  const int err = errno;
  std::fclose(f);
  MVB_CHECK(got == buf.size(), "cannot read image ", path, ": ", got, " of ", buf.size(), " bytes read (",
            std::strerror(err), ")");
}

// JPEGs go through libjpeg directly (same pixels as PIL, straight to RGB); everything else, and
// the JPEGs that decoder leaves aside (corrupt data, unusual component counts), through OpenCV.
void decode_bytes(const std::string& bytes, const std::string& name, RgbImage& out) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  // PIL's decompression-bomb rule for every format, from the header, before any decoder allocates:
  // a 1 MB PNG can declare 32000x33000 pixels (4.3 GB once decoded).
  if (const auto hs = read_image_header_size(data, bytes.size()))
    if (check_image_size_limits(hs->width, hs->height, hs->format, name))
      spdlog::warn(
          "image {}: {}x{} pixels is over PIL's MAX_IMAGE_PIXELS ({}); PIL warns "
          "(DecompressionBombWarning) and decodes it, and so do we",
          name, hs->width, hs->height, kPilMaxImagePixels);
  const JpegStatus jpeg = decode_jpeg_rgb(data, bytes.size(), out.pixels, out.width, out.height);
  if (jpeg == JpegStatus::kOk) return;
  MVB_CHECK(jpeg != JpegStatus::kTruncated, "cannot decode image ", name,
            ": truncated JPEG data (PIL refuses it too); re-export or drop the file");
  MVB_CHECK(jpeg != JpegStatus::kTooLarge, "cannot decode image ", name, ": ", out.width, "x", out.height,
            " pixels is over the decompression-bomb limit of ", kMaxJpegPixels,
            " (PIL refuses it too); downscale the file");
  // EXIF orientation is ignored on purpose: PIL's Image.open, which the reference uses, ignores it too.
  cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(buf, cv::IMREAD_UNCHANGED | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    // OpenCV's own limits (CV_IO_MAX_IMAGE_PIXELS ...) for formats whose header we do not read: a
    // clear error row for this sample rather than an assertion text from inside imdecode.
    throw Error("cannot decode image " + name + ": OpenCV refuses it (" + e.err + ")");
  }
  from_mat(decoded, name, out);
}

// Python's round() (half to even) of a double.
int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

}  // namespace

void decode_image_into(const ImageRef& ref, RgbImage& out) {
  if (ref.pixels) {
    const PixelBuffer& p = *ref.pixels;
    MVB_CHECK(p.channels == 1 || p.channels == 3, "image ", ref.path, ": unsupported channel count ", p.channels);
    MVB_CHECK(p.data.size() == static_cast<size_t>(p.height) * p.width * p.channels, "image ", ref.path,
              ": pixel buffer size does not match its shape");
    out.width = p.width;
    out.height = p.height;
    if (p.channels == 3) {
      out.pixels.assign(p.data.begin(), p.data.end());
    } else {
      out.pixels.resize(p.data.size() * 3);
      for (size_t i = 0; i < p.data.size(); ++i)
        out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = p.data[i];
    }
    return;
  }
  if (ref.encoded) {
    MVB_CHECK(!ref.encoded->empty(), "cannot decode image ", ref.path, ": no image bytes");
    decode_bytes(*ref.encoded, ref.path, out);
    return;
  }
  MVB_CHECK(io::exists(ref.path), "missing image ", ref.path, "; check --image_path and the dataset layout");
  thread_local std::string bytes;
  read_file_into(ref.path, bytes);
  MVB_CHECK(!bytes.empty(), "image ", ref.path,
            " is an empty file (0 bytes), not an image; re-copy or re-export it, or drop the sample");
  decode_bytes(bytes, ref.path, out);
}

RgbImage decode_image(const ImageRef& ref) {
  RgbImage out;
  decode_image_into(ref, out);
  return out;
}

std::pair<int, int> shortest_edge_size(int width, int height, int shortest_edge) {
  // transformers' get_resize_output_image_size / torchvision Resize(int): int() truncates.
  const int shorter = std::min(width, height), longer = std::max(width, height);
  const int new_long = static_cast<int>(static_cast<double>(static_cast<int64_t>(shortest_edge) * longer) / shorter);
  return width <= height ? std::make_pair(shortest_edge, new_long) : std::make_pair(new_long, shortest_edge);
}

std::pair<int, int> resized_size(int width, int height, const ImageTransform& t) {
  if (t.resize_mode == "shortest_edge") return shortest_edge_size(width, height, t.resize);
  if (t.resize_mode == "exact") {
    MVB_CHECK(t.resize_width > 0 && t.resize_height > 0, "exact resize needs resize_width and resize_height");
    return {t.resize_width, t.resize_height};
  }
  MVB_CHECK(t.resize_mode == "none", "unknown resize mode '", t.resize_mode, "' (shortest_edge, exact or none)");
  return {width, height};
}

RgbImage crop_box(const RgbImage& img, int left, int top, int right, int bottom) {
  MVB_CHECK(right > left && bottom > top, "empty crop box");
  RgbImage out;
  out.width = right - left;
  out.height = bottom - top;
  out.pixels.assign(static_cast<size_t>(out.width) * out.height * 3, 0);
  const int x0 = std::max(left, 0), x1 = std::min(right, img.width);
  if (x1 <= x0) return out;
  for (int y = std::max(top, 0); y < std::min(bottom, img.height); ++y)
    std::memcpy(out.pixels.data() + (static_cast<size_t>(y - top) * out.width + (x0 - left)) * 3,
                img.pixels.data() + (static_cast<size_t>(y) * img.width + x0) * 3, static_cast<size_t>(x1 - x0) * 3);
  return out;
}

RgbImage center_crop(const RgbImage& img, int width, int height, const std::string& rounding) {
  if (rounding == "round") {
    // torchvision F.center_crop: zero-pad to at least the crop, then offsets round((size - crop) / 2).
    const int pad_l = width > img.width ? (width - img.width) / 2 : 0;
    const int pad_t = height > img.height ? (height - img.height) / 2 : 0;
    const int pad_r = width > img.width ? (width - img.width + 1) / 2 : 0;
    const int pad_b = height > img.height ? (height - img.height + 1) / 2 : 0;
    const int w = img.width + pad_l + pad_r, h = img.height + pad_t + pad_b;
    const int top = round_half_even((h - height) / 2.0), left = round_half_even((w - width) / 2.0);
    return crop_box(img, left - pad_l, top - pad_t, left - pad_l + width, top - pad_t + height);
  }
  MVB_CHECK(rounding == "floor", "unknown crop rounding '", rounding, "' (floor or round)");
  // transformers' image_transforms.center_crop (floor division; zero padding centred with ceil).
  auto floordiv2 = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  int top = floordiv2(img.height - height), left = floordiv2(img.width - width);
  if (top >= 0 && left >= 0 && top + height <= img.height && left + width <= img.width)
    return crop_box(img, left, top, left + width, top + height);
  const int new_h = std::max(height, img.height), new_w = std::max(width, img.width);
  const int top_pad = (new_h - img.height + 1) / 2, left_pad = (new_w - img.width + 1) / 2;
  top += top_pad;
  left += left_pad;
  // The padded canvas is cropped to [max(0, top), min(new_h, top + height)): never larger than it.
  const int t0 = std::max(0, top), b0 = std::min(new_h, top + height);
  const int l0 = std::max(0, left), r0 = std::min(new_w, left + width);
  return crop_box(img, l0 - left_pad, t0 - top_pad, r0 - left_pad, b0 - top_pad);
}

RgbImage expand_to_square(const RgbImage& img, std::array<uint8_t, 3> background) {
  if (img.width == img.height) return img;
  const int side = std::max(img.width, img.height);
  RgbImage out;
  out.width = out.height = side;
  out.pixels.resize(static_cast<size_t>(side) * side * 3);
  for (size_t i = 0; i < out.pixels.size(); i += 3) std::memcpy(&out.pixels[i], background.data(), 3);
  const int x0 = img.width < side ? (side - img.width) / 2 : 0;
  const int y0 = img.height < side ? (side - img.height) / 2 : 0;
  for (int y = 0; y < img.height; ++y)
    std::memcpy(out.pixels.data() + (static_cast<size_t>(y + y0) * side + x0) * 3,
                img.pixels.data() + static_cast<size_t>(y) * img.width * 3, static_cast<size_t>(img.width) * 3);
  return out;
}

RgbImage transform_pixels(const RgbImage& in, const ImageTransform& t) {
  MVB_CHECK(in.width > 0 && in.height > 0, "cannot preprocess an empty image");
  const RgbImage* cur = &in;
  RgbImage tmp;
  if (t.pad_to_square) {
    // LLaVA: tuple(int(x * 255) for x in image_processor.image_mean)
    std::array<uint8_t, 3> bg{};
    for (int c = 0; c < 3; ++c) bg[c] = static_cast<uint8_t>(static_cast<int>(static_cast<double>(t.mean[c]) * 255));
    tmp = expand_to_square(*cur, bg);
    cur = &tmp;
  }
  const auto [w, h] = resized_size(cur->width, cur->height, t);
  if (w != cur->width || h != cur->height) {
    tmp = pil_resize(*cur, w, h, parse_resample(t.interpolation));
    cur = &tmp;
  }
  const int cw = t.crop_width > 0 ? t.crop_width : t.crop;
  const int chh = t.crop_height > 0 ? t.crop_height : t.crop;
  if (cw > 0 && chh > 0) {
    tmp = center_crop(*cur, cw, chh, t.crop_rounding);
    cur = &tmp;
  }
  return cur == &in ? in : std::move(tmp);
}

}  // namespace mvb
