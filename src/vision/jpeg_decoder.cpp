#include "medvlmbench/vision/jpeg_decoder.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>

// libjpeg's headers need FILE and size_t declared first, and jerror.h needs jpeglib.h.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

namespace mvb {
namespace {

// libjpeg reports fatal errors through error_exit, which must not return: jump back to the caller.
// Warnings are collected instead of printed; a premature end of data counts as a failure because
// PIL raises "image file is truncated" for such files rather than decoding the grey remainder.
struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  bool truncated = false;
};

void on_error(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1); }

void on_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && err->base.msg_code == JWRN_JPEG_EOF) err->truncated = true;
}

void silent_output(j_common_ptr) {}

// Pillow's MULDIV255: a * b / 255, rounded its way.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// Pillow reads CMYK JPEGs as "CMYK;I" (Adobe's inverted samples) and converts CMYK -> RGB as
// channel = (255 - K) - C * (255 - K) / 255 (Convert.c cmyk2rgb).
inline void cmyk_inverted_to_rgb(const uint8_t* raw, uint8_t* out) {
  const int nk = raw[3];  // 255 - K, with K = 255 - raw
  for (int c = 0; c < 3; ++c) {
    const int v = nk - muldiv255(255 - raw[c], nk);
    out[c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

}  // namespace

bool looks_like_jpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

JpegStatus decode_jpeg_rgb(const uint8_t* data, size_t size, std::vector<uint8_t>& rgb, int& width, int& height) {
  if (!looks_like_jpeg(data, size)) return JpegStatus::kNotHandled;
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = on_message;
  err.base.output_message = silent_output;
  // Nothing with a destructor may live between setjmp and the longjmp that can return here.
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kNotHandled;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  width = static_cast<int>(cinfo.image_width);
  height = static_cast<int>(cinfo.image_height);
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > kMaxJpegPixels) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kTooLarge;
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  const bool supported =
      cmyk ? cinfo.num_components == 4
           : (cinfo.num_components == 1 || cinfo.num_components == 3) && cinfo.jpeg_color_space != JCS_UNKNOWN;
  if (!supported) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kNotHandled;
  }
  // Grey expands to RGB inside libjpeg (R = G = B = Y, as PIL's L -> RGB conversion does); YCCK
  // becomes CMYK inside libjpeg, as it does for PIL.
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  width = static_cast<int>(cinfo.output_width);
  height = static_cast<int>(cinfo.output_height);
  rgb.resize(static_cast<size_t>(width) * height * 3);
  const size_t stride = static_cast<size_t>(width) * 3;
  thread_local std::vector<uint8_t> cmyk_row;
  if (cmyk) cmyk_row.resize(static_cast<size_t>(width) * 4);
  while (cinfo.output_scanline < cinfo.output_height) {
    if (cmyk) {
      uint8_t* dst = rgb.data() + cinfo.output_scanline * stride;
      JSAMPROW row = cmyk_row.data();
      jpeg_read_scanlines(&cinfo, &row, 1);
      for (int x = 0; x < width; ++x) cmyk_inverted_to_rgb(&cmyk_row[4 * x], dst + 3 * x);
      continue;
    }
    // Several rows per call where the sampling factors allow it (fewer library round trips).
    JSAMPROW rows[16];
    const int n = static_cast<int>(std::min<JDIMENSION>(16, cinfo.output_height - cinfo.output_scanline));
    for (int i = 0; i < n; ++i) rows[i] = rgb.data() + (cinfo.output_scanline + i) * stride;
    jpeg_read_scanlines(&cinfo, rows, static_cast<JDIMENSION>(n));
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return err.truncated ? JpegStatus::kTruncated : JpegStatus::kOk;
}

}  // namespace mvb
