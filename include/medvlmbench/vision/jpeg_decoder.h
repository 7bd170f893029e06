// JPEG decoding with libjpeg-turbo: the library Pillow links, used with Pillow's settings (the
// library defaults: ISLOW IDCT, fancy upsampling), so pixels equal PIL's
// Image.open(f).convert("RGB") exactly. Decodes straight to RGB into a caller-owned buffer whose
// capacity is reused, where OpenCV would decode to BGR into a fresh Mat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mvb {

// True when `data` starts with the JPEG start-of-image marker.
bool looks_like_jpeg(const uint8_t* data, size_t size);

enum class JpegStatus {
  kOk,
  kTruncated,   // data ends early: PIL refuses such files ("image file is truncated")
  kNotHandled,  // not a JPEG this decoder reads (corrupt, 12-bit, unusual components)
  kTooLarge,    // more pixels than kMaxJpegPixels (a decompression bomb): nothing was allocated
};

// PIL's DecompressionBombError threshold (2 * Image.MAX_IMAGE_PIXELS): the reference could not open
// a larger image either, and the header alone must not make us allocate gigabytes.
constexpr uint64_t kMaxJpegPixels = 2ull * 89478485ull;

// Decodes an 8-bit grayscale, YCbCr, RGB, CMYK or YCCK JPEG (baseline or progressive) into `rgb`
// (width * height * 3 bytes; EXIF orientation ignored, as PIL's plain open does). CMYK goes through
// PIL's own conversion: Adobe-inverted samples ("CMYK;I", which Pillow assumes for every CMYK JPEG),
// then R = (255 - K) - (C * (255 - K)) / 255 with PIL's rounding. kNotHandled leaves the outputs
// unspecified; callers use the general decoder, which also words the error for corrupt data.
JpegStatus decode_jpeg_rgb(const uint8_t* data, size_t size, std::vector<uint8_t>& rgb, int& width, int& height);

}  // namespace mvb
