// Issue 18, defect 5: PIL refuses any image over twice Image.MAX_IMAGE_PIXELS (178,956,970 pixels)
// when it opens the file, whatever the format, but only our JPEG path checked: a 1 MB PNG declaring
// 32000x33000 pixels was decoded into 4.3 GB. Every format's header is now read first. And an image over
// OpenCV's own limits (a side over 2^20 pixels) is a clear error for that sample, not an OpenCV
// assertion text.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "medvlmbench/core/error.h"
#include "medvlmbench/vision/image.h"

namespace mvb {
namespace {

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// A well-formed PNG head (valid CRCs) declaring w x h RGB pixels, then a few bytes of image data: what
// a decompression bomb looks like before its (tiny, highly compressed) data is inflated.
std::string png_header(uint32_t w, uint32_t h) {
  std::string ihdr = be32(w) + be32(h) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", std::string("\x78\x9c\x03\x00", 4)) +
         chunk("IEND", "");
}

std::string le32(uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
}

// A little-endian TIFF whose first IFD says w x h (LONG width and length), 8-bit RGB.
std::string tiff_header(uint32_t w, uint32_t h) {
  auto entry = [](uint16_t tag, uint16_t type, uint32_t count, uint32_t value) {
    return std::string{static_cast<char>(tag), static_cast<char>(tag >> 8), static_cast<char>(type),
                       static_cast<char>(type >> 8)} +
           le32(count) + le32(value);
  };
  std::string t = std::string("II*\0", 4) + le32(8) + std::string("\x03\x00", 2) + entry(256, 4, 1, w) +
                  entry(257, 4, 1, h) + entry(258, 3, 1, 8) + le32(0);
  return t + std::string(64, '\0');
}

std::string bmp_header(int32_t w, int32_t h) {
  std::string b = "BM" + le32(54) + le32(0) + le32(54) + le32(40) + le32(static_cast<uint32_t>(w)) +
                  le32(static_cast<uint32_t>(h)) + std::string("\x01\x00\x18\x00", 4) + le32(0) + le32(0) + le32(0) +
                  le32(0) + le32(0) + le32(0);
  return b + std::string(16, '\0');
}

std::string decode_error(const std::string& name, const std::string& bytes) {
  const ImageRef ref{name, std::make_shared<const std::string>(bytes), nullptr};
  try {
    decode_image(ref);
  } catch (const Error& e) {
    return e.what();
  }
  return "";  // decoded (or threw something other than mvb::Error, which the test reports as a crash)
}

TEST(DecompressionBomb, EveryFormatIsRefusedFromItsHeader) {
  // 14000 x 13000 = 182,000,000 pixels: over PIL's 178,956,970 refusal limit, under OpenCV's own.
  const struct {
    const char* name;
    std::string bytes;
  } bombs[] = {{"bomb.png", png_header(14000, 13000)},
               {"bomb.tif", tiff_header(14000, 13000)},
               {"bomb.bmp", bmp_header(14000, -13000)}};
  for (const auto& b : bombs) {
    SCOPED_TRACE(b.name);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string e = decode_error(b.name, b.bytes);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(e.find(b.name), std::string::npos) << e;
    EXPECT_NE(e.find("14000x13000"), std::string::npos) << e;
    EXPECT_NE(e.find("decompression-bomb limit of 178956970"), std::string::npos) << e;
    EXPECT_LT(s, 1.0) << "refused only after decoding";
  }
  // Under the limit the header check lets the file through (this one then fails as corrupt data).
  EXPECT_EQ(decode_error("small.png", png_header(64, 64)).find("decompression-bomb"), std::string::npos);
}

TEST(DecompressionBomb, OverOpenCvsLimitIsAClearError) {
  // 2,000,000 x 1 pixels: fine for PIL, over OpenCV's 2^20 side limit (imdecode asserts).
  const std::string e = decode_error("wide.png", png_header(2000000, 1));
  EXPECT_NE(e.find("cannot decode image wide.png"), std::string::npos) << e;
  EXPECT_NE(e.find("OpenCV's limit"), std::string::npos) << e;
  EXPECT_EQ(e.find("Assertion failed"), std::string::npos) << e;
}

}  // namespace
}  // namespace mvb
