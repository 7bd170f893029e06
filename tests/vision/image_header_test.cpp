// The header reader behind the decompression-bomb check (issue 18, defect 5): the sizes it reads from
// files OpenCV writes, and PIL's two thresholds (warn over MAX_IMAGE_PIXELS, refuse over twice it).
#include "medvlmbench/vision/image_header.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "medvlmbench/core/error.h"

namespace mvb {
namespace {

TEST(ImageHeader, SizesOfFilesOpenCvWrites) {
  cv::Mat img(23, 37, CV_8UC3, cv::Scalar(10, 20, 30));
  for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm", ".pgm"}) {
    SCOPED_TRACE(ext);
    std::vector<uint8_t> buf;
    cv::Mat src = img;
    if (std::string(ext) == ".pgm") cv::extractChannel(img, src, 0);
    if (!cv::haveImageWriter(ext)) continue;  // a codec this OpenCV build lacks
    ASSERT_TRUE(cv::imencode(ext, src, buf));
    const auto hs = read_image_header_size(buf.data(), buf.size());
    ASSERT_TRUE(hs.has_value());
    EXPECT_EQ(hs->width, 37u);
    EXPECT_EQ(hs->height, 23u);
  }
  const uint8_t junk[] = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};
  EXPECT_FALSE(read_image_header_size(junk, sizeof junk).has_value());
  EXPECT_FALSE(read_image_header_size(junk, 0).has_value());
}

TEST(ImageHeader, PilThresholds) {
  EXPECT_FALSE(check_image_size_limits(9000, 9000, "PNG", "a.png"));           // 81,000,000: silent
  EXPECT_TRUE(check_image_size_limits(9000, 10000, "PNG", "a.png"));           // 90,000,000: PIL warns
  EXPECT_TRUE(check_image_size_limits(13000, 13765, "PNG", "a.png"));          // 178,945,000: under twice, PIL opens it
  EXPECT_THROW(check_image_size_limits(13000, 13766, "PNG", "a.png"), Error);  // 178,958,000: PIL refuses
  EXPECT_THROW(check_image_size_limits(1u << 21, 1, "PNG", "a.png"), Error);   // OpenCV's side limit
  EXPECT_THROW(check_image_size_limits(1ull << 33, 1ull << 33, "PNM", "a.pnm"), Error);  // no overflow
}

}  // namespace
}  // namespace mvb
