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

// Decodes an 8-bit grayscale, YCbCr or RGB JPEG (baseline or progressive) into `rgb`
// (width * height * 3 bytes; EXIF orientation ignored, as PIL's plain open does). Returns false for
// what it leaves to the general decoder: CMYK/YCCK files (PIL converts those its own way), and
// corrupt or truncated data (PIL refuses truncated files; the general decoder words the error).
bool decode_jpeg_rgb(const uint8_t* data, size_t size, std::vector<uint8_t>& rgb, int& width, int& height);

}  // namespace mvb
