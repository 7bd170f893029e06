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

}  // namespace

bool looks_like_jpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

bool decode_jpeg_rgb(const uint8_t* data, size_t size, std::vector<uint8_t>& rgb, int& width, int& height) {
  if (!looks_like_jpeg(data, size)) return false;
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = on_message;
  err.base.output_message = silent_output;
  // Nothing with a destructor may live between setjmp and the longjmp that can return here.
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK || cinfo.num_components == 2 ||
      cinfo.num_components > 4) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // Grey expands to RGB inside libjpeg (R = G = B = Y, as PIL's L -> RGB conversion does).
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  width = static_cast<int>(cinfo.output_width);
  height = static_cast<int>(cinfo.output_height);
  rgb.resize(static_cast<size_t>(width) * height * 3);
  const size_t stride = static_cast<size_t>(width) * 3;
  while (cinfo.output_scanline < cinfo.output_height) {
    // Several rows per call where the sampling factors allow it (fewer library round trips).
    JSAMPROW rows[16];
    const int n = static_cast<int>(std::min<JDIMENSION>(16, cinfo.output_height - cinfo.output_scanline));
    for (int i = 0; i < n; ++i) rows[i] = rgb.data() + (cinfo.output_scanline + i) * stride;
    jpeg_read_scanlines(&cinfo, rows, static_cast<JDIMENSION>(n));
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return !err.truncated;
}

}  // namespace mvb
