#include "medvlmbench/vision/image.h"

#include <ATen/ATen.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"

namespace mvb {
namespace {

RgbImage from_mat(const cv::Mat& in, const std::string& name) {
  MVB_CHECK(!in.empty(), "cannot decode image ", name, ": not a readable PNG/JPEG/TIFF/BMP file");
  cv::Mat m = in;
  if (m.depth() == CV_16U) {
    // 16-bit (e.g. radiographs): scale to 8 bits over the full 16-bit range.
    m.convertTo(m, CV_8U, 255.0 / 65535.0);
  } else if (m.depth() != CV_8U) {
    cv::Mat tmp;
    cv::normalize(m, tmp, 0, 255, cv::NORM_MINMAX, CV_8U);
    m = tmp;
  }
  cv::Mat rgb;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(m, rgb, cv::COLOR_BGRA2RGB);
      break;  // PIL convert("RGB") drops alpha
    default:
      throw Error("cannot decode image " + name + ": unsupported channel count " + std::to_string(m.channels()));
  }
  RgbImage out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.pixels.resize(static_cast<size_t>(rgb.cols) * rgb.rows * 3);
  for (int y = 0; y < rgb.rows; ++y)
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * rgb.cols * 3, rgb.ptr(y),
                static_cast<size_t>(rgb.cols) * 3);
  return out;
}

}  // namespace

RgbImage decode_image(const ImageRef& ref) {
  // EXIF orientation is ignored on purpose: PIL's Image.open, which the reference uses, ignores it too.
  const int flags = cv::IMREAD_UNCHANGED | cv::IMREAD_IGNORE_ORIENTATION;
  if (ref.pixels) {
    const PixelBuffer& p = *ref.pixels;
    MVB_CHECK(p.channels == 1 || p.channels == 3, "image ", ref.path, ": unsupported channel count ", p.channels);
    MVB_CHECK(p.data.size() == static_cast<size_t>(p.height) * p.width * p.channels, "image ", ref.path,
              ": pixel buffer size does not match its shape");
    RgbImage out;
    out.width = p.width;
    out.height = p.height;
    if (p.channels == 3) {
      out.pixels = p.data;
    } else {
      out.pixels.resize(p.data.size() * 3);
      for (size_t i = 0; i < p.data.size(); ++i)
        out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = p.data[i];
    }
    return out;
  }
  if (ref.encoded) {
    const std::string& b = *ref.encoded;
    cv::Mat buf(1, static_cast<int>(b.size()), CV_8U, const_cast<char*>(b.data()));
    return from_mat(cv::imdecode(buf, flags), ref.path);
  }
  MVB_CHECK(io::exists(ref.path), "missing image ", ref.path, "; check --image_path and the dataset layout");
  return from_mat(cv::imread(ref.path, flags), ref.path);
}

at::Tensor preprocess(const RgbImage& img, const ImageTransform& t) {
  MVB_CHECK(img.width > 0 && img.height > 0, "cannot preprocess an empty image");
  cv::Mat src(img.height, img.width, CV_8UC3, const_cast<uint8_t*>(img.pixels.data()));
  const double scale = static_cast<double>(t.resize) / std::min(img.width, img.height);
  const int w = std::max(t.crop, static_cast<int>(std::lround(img.width * scale)));
  const int h = std::max(t.crop, static_cast<int>(std::lround(img.height * scale)));
  int interp = cv::INTER_CUBIC;
  if (t.interpolation == "bilinear")
    interp = cv::INTER_LINEAR;
  else if (t.interpolation == "nearest")
    interp = cv::INTER_NEAREST;
  cv::Mat resized;
  cv::resize(src, resized, cv::Size(w, h), 0, 0, interp);
  const int x0 = (w - t.crop) / 2, y0 = (h - t.crop) / 2;
  cv::Mat crop = resized(cv::Rect(x0, y0, t.crop, t.crop)).clone();
  at::Tensor x = at::from_blob(crop.data, {t.crop, t.crop, 3}, at::kByte).permute({2, 0, 1}).to(at::kFloat).div_(255.0);
  at::Tensor mean = at::tensor({t.mean[0], t.mean[1], t.mean[2]}).view({3, 1, 1});
  at::Tensor stdv = at::tensor({t.std[0], t.std[1], t.std[2]}).view({3, 1, 1});
  return ((x - mean) / stdv).contiguous();
}

}  // namespace mvb
