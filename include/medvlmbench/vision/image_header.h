// Image dimensions read from a file's header, before anything is decoded or allocated, so every
// format gets PIL's decompression-bomb rule (issue 18, defect 5) and OpenCV's own size limits give a
// clear error instead of an assertion from inside imdecode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mvb {

struct ImageHeaderSize {
  uint64_t width = 0, height = 0;
  const char* format = "";  // "PNG", "BMP", "TIFF", "WebP", "GIF", "PNM", "JPEG"
};

// Width and height from the header of a PNG, JPEG (SOF marker), BMP, TIFF (first IFD), WebP (VP8,
// VP8L, VP8X), GIF or PNM file; nullopt for other formats and for headers too short to read.
std::optional<ImageHeaderSize> read_image_header_size(const uint8_t* data, size_t size);

// PIL's Image.MAX_IMAGE_PIXELS: over it PIL warns (DecompressionBombWarning), over twice it PIL
// refuses to open the file (DecompressionBombError).
constexpr uint64_t kPilMaxImagePixels = 89478485ull;
// OpenCV 4's imdecode limits (CV_IO_MAX_IMAGE_WIDTH/HEIGHT and CV_IO_MAX_IMAGE_PIXELS defaults).
constexpr uint64_t kOpenCvMaxImageSide = 1ull << 20;
constexpr uint64_t kOpenCvMaxImagePixels = 1ull << 30;

// Applies both rules to an image of `w` x `h` named `name`: throws mvb::Error (an error row for that
// sample) when PIL or OpenCV would refuse it; returns true when PIL would only warn.
bool check_image_size_limits(uint64_t w, uint64_t h, const char* format, const std::string& name);

}  // namespace mvb
