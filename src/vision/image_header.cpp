#include "medvlmbench/vision/image_header.h"

#include <cctype>
#include <cstring>

#include "medvlmbench/core/error.h"

namespace mvb {
namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t le32(const uint8_t* p) {
  return (uint32_t(p[3]) << 24) | (uint32_t(p[2]) << 16) | (uint32_t(p[1]) << 8) | p[0];
}
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>((p[1] << 8) | p[0]); }
uint32_t le24(const uint8_t* p) { return (uint32_t(p[2]) << 16) | (uint32_t(p[1]) << 8) | p[0]; }

std::optional<ImageHeaderSize> jpeg_size(const uint8_t* d, size_t n) {
  // Walk the marker segments to the first SOFn (C0..CF except C4 DHT, C8 JPG, CC DAC).
  size_t i = 2;
  while (i + 4 <= n) {
    if (d[i] != 0xFF) return std::nullopt;
    const uint8_t m = d[i + 1];
    if (m == 0xFF) {
      ++i;
      continue;
    }
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
      i += 2;
      continue;
    }
    const size_t len = be16(d + i + 2);
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      if (i + 9 > n) return std::nullopt;
      return ImageHeaderSize{be16(d + i + 7), be16(d + i + 5), "JPEG"};
    }
    if (len < 2) return std::nullopt;
    i += 2 + len;
  }
  return std::nullopt;
}

std::optional<ImageHeaderSize> tiff_size(const uint8_t* d, size_t n) {
  const bool le = d[0] == 'I';
  auto u16 = [&](size_t o) { return le ? le16(d + o) : be16(d + o); };
  auto u32 = [&](size_t o) { return le ? le32(d + o) : be32(d + o); };
  const uint64_t ifd = u32(4);
  if (ifd + 2 > n) return std::nullopt;
  const size_t count = u16(ifd);
  uint64_t w = 0, h = 0;
  for (size_t k = 0; k < count; ++k) {
    const size_t e = ifd + 2 + 12 * k;
    if (e + 12 > n) break;
    const uint16_t tag = u16(e), type = u16(e + 2);
    const uint64_t v = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : 0;
    if (tag == 256) w = v;
    if (tag == 257) h = v;
  }
  if (w == 0 || h == 0) return std::nullopt;
  return ImageHeaderSize{w, h, "TIFF"};
}

std::optional<ImageHeaderSize> pnm_size(const uint8_t* d, size_t n) {
  // "P1".."P6", then width and height as decimal text; '#' starts a comment to the end of line.
  size_t i = 2;
  uint64_t v[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    for (;;) {
      while (i < n && std::isspace(d[i])) ++i;
      if (i < n && d[i] == '#') {
        while (i < n && d[i] != '\n') ++i;
        continue;
      }
      break;
    }
    if (i >= n || !std::isdigit(d[i])) return std::nullopt;
    while (i < n && std::isdigit(d[i]) && v[k] < (1ull << 40)) v[k] = v[k] * 10 + (d[i++] - '0');
  }
  return ImageHeaderSize{v[0], v[1], "PNM"};
}

}  // namespace

std::optional<ImageHeaderSize> read_image_header_size(const uint8_t* d, size_t n) {
  if (n >= 24 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(d + 12, "IHDR", 4) == 0)
    return ImageHeaderSize{be32(d + 16), be32(d + 20), "PNG"};
  if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) return jpeg_size(d, n);
  if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    const uint32_t dib = le32(d + 14);
    if (dib == 12) return ImageHeaderSize{le16(d + 18), le16(d + 20), "BMP"};
    const int32_t w = static_cast<int32_t>(le32(d + 18)), h = static_cast<int32_t>(le32(d + 22));
    // A negative height means top-down rows; the size is its magnitude.
    return ImageHeaderSize{static_cast<uint64_t>(w < 0 ? -int64_t(w) : w),
                           static_cast<uint64_t>(h < 0 ? -int64_t(h) : h), "BMP"};
  }
  if (n >= 8 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) ||
                 (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42)))
    return tiff_size(d, n);
  if (n >= 30 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) {
    if (std::memcmp(d + 12, "VP8X", 4) == 0) return ImageHeaderSize{le24(d + 24) + 1ull, le24(d + 27) + 1ull, "WebP"};
    if (std::memcmp(d + 12, "VP8L", 4) == 0 && d[20] == 0x2F) {
      const uint32_t bits = le32(d + 21);
      return ImageHeaderSize{(bits & 0x3FFF) + 1ull, ((bits >> 14) & 0x3FFF) + 1ull, "WebP"};
    }
    if (std::memcmp(d + 12, "VP8 ", 4) == 0)
      return ImageHeaderSize{le16(d + 26) & 0x3FFFu, le16(d + 28) & 0x3FFFu, "WebP"};
    return std::nullopt;
  }
  if (n >= 10 && std::memcmp(d, "GIF8", 4) == 0) return ImageHeaderSize{le16(d + 6), le16(d + 8), "GIF"};
  if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && std::isspace(d[2])) return pnm_size(d, n);
  return std::nullopt;
}

bool check_image_size_limits(uint64_t w, uint64_t h, const char* format, const std::string& name) {
  const uint64_t px = (w >> 32) || (h >> 32) ? UINT64_MAX : w * h;
  MVB_CHECK(px <= 2 * kPilMaxImagePixels, "cannot decode image ", name, ": ", format, " of ", w, "x", h, " = ", px,
            " pixels is over the decompression-bomb limit of ", 2 * kPilMaxImagePixels,
            " (twice PIL's MAX_IMAGE_PIXELS; PIL refuses it too); downscale the file");
  MVB_CHECK(w <= kOpenCvMaxImageSide && h <= kOpenCvMaxImageSide, "cannot decode image ", name, ": ", format, " of ", w,
            "x", h, " pixels has a side over OpenCV's limit of ", kOpenCvMaxImageSide,
            " pixels; crop or downscale the file");
  return px > kPilMaxImagePixels;
}

}  // namespace mvb
