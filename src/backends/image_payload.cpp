#include "medvlmbench/backends/image_payload.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medvlmbench/backends/encoding.h"
#include "medvlmbench/core/error.h"

namespace mvb::api {

std::string png_bytes(const RgbImage& img) {
  MVB_CHECK(img.width > 0 && img.height > 0, "cannot encode an empty image");
  cv::Mat rgb(img.height, img.width, CV_8UC3, const_cast<uint8_t*>(img.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);  // imencode expects OpenCV's BGR order
  std::vector<uchar> buf;
  MVB_CHECK(cv::imencode(".png", bgr, buf), "PNG encoding failed for a ", img.width, "x", img.height, " image");
  return std::string(buf.begin(), buf.end());
}

EncodedImage encode_image(const ImageRef& ref) {
  EncodedImage out;
  out.mime = "image/png";
  out.base64 = base64_encode(png_bytes(decode_image(ref)));
  return out;
}

}  // namespace mvb::api
