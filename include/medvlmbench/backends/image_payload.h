// Turns a sample's image into what the APIs accept: decoded (any source: file, embedded bytes,
// npz pixels) to RGB, re-encoded as PNG and base64'd, as the reference does (to_pil_image -> PNG).
// Re-encoding makes the bytes deterministic, so the response cache keys are stable.
#pragma once

#include "medvlmbench/backends/api_protocol.h"
#include "medvlmbench/core/sample.h"
#include "medvlmbench/vision/image.h"

namespace mvb::api {

std::string png_bytes(const RgbImage& img);
EncodedImage encode_image(const ImageRef& ref);  // throws mvb::Error naming the image

}  // namespace mvb::api
