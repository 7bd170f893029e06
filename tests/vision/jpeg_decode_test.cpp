// The libjpeg decode path (jpeg_decoder.cpp) against python3-pil's Image.open(f).convert("RGB"):
// every chroma subsampling, baseline and progressive, grayscale, CMYK, sizes that are not whole
// MCUs, an EXIF orientation (ignored, like PIL's plain open) and a truncated file (refused, like
// PIL). Then the per-thread load_preprocessed() path against decode + preprocess.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/jpeg_decoder.h"
#include "support/test_support.h"

using namespace mvb;
using mvb::test::TempDir;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Expected {
  std::string name;
  int width = 0, height = 0;
  bool refused = false;
};

// tests/oracles/vision/jpeg_oracle.py writes the JPEG variants with PIL and, for each, PIL's decoded
// RGB bytes next to it (<name>.ref), printing "<name> <width> <height>" per file, or "<name> refused"
// when PIL raises.
std::vector<Expected> make_jpegs(const TempDir& d) {
  auto r =
      mvb::test::run_oracle_script(mvb::test::OracleInterpreter::kDebianPython, "vision/jpeg_oracle.py", {d.path()});
  std::vector<Expected> out;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    Expected e;
    std::string second;
    f >> e.name >> second;
    if (second == "refused") {
      e.refused = true;
    } else {
      e.width = std::stoi(second);
      f >> e.height;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST(JpegDecode, MatchesPilConvertRgbExactly) {
  TempDir d;
  const auto files = make_jpegs(d);
  ASSERT_EQ(files.size(), 11u);
  int decoded = 0;
  for (const auto& e : files) {
    SCOPED_TRACE(e.name);
    const std::string bytes = read_bytes(d / e.name);
    if (e.refused) continue;
    // The libjpeg path itself handles every variant here (no silent OpenCV fallback).
    std::vector<uint8_t> rgb;
    int w = 0, h = 0;
    ASSERT_EQ(decode_jpeg_rgb(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), rgb, w, h),
              JpegStatus::kOk);
    EXPECT_EQ(w, e.width);
    EXPECT_EQ(h, e.height);
    const std::string ref = read_bytes(d / (e.name + ".ref"));
    ASSERT_EQ(rgb.size(), ref.size());
    int max_diff = 0;
    for (size_t i = 0; i < rgb.size(); ++i)
      max_diff =
          std::max(max_diff, std::abs(static_cast<int>(rgb[i]) - static_cast<int>(static_cast<uint8_t>(ref[i]))));
    EXPECT_EQ(max_diff, 0);
    // Through the public entry points: a file and embedded bytes give the same pixels.
    RgbImage from_file = decode_image(ImageRef::file(d / e.name));
    EXPECT_EQ(from_file.pixels, rgb);
    ImageRef embedded{"x.parquet#row=1", std::make_shared<const std::string>(bytes), nullptr};
    EXPECT_EQ(decode_image(embedded).pixels, rgb);
    ++decoded;
  }
  EXPECT_EQ(decoded, 10);
}

// A header claiming 60000 x 60000 pixels (3.6 G) is refused before anything is allocated, as PIL's
// DecompressionBombError refuses it, and the error names the image.
TEST(JpegDecode, DecompressionBombIsRefusedFromTheHeader) {
  TempDir d;
  const auto files = make_jpegs(d);
  ASSERT_FALSE(files.empty());
  std::string bytes = mvb::test::read_text(d / files.front().name);
  size_t sof = std::string::npos;
  for (size_t i = 2; i + 9 < bytes.size(); ++i)
    if (static_cast<uint8_t>(bytes[i]) == 0xFF &&
        (static_cast<uint8_t>(bytes[i + 1]) == 0xC0 || static_cast<uint8_t>(bytes[i + 1]) == 0xC2)) {
      sof = i;
      break;
    }
  ASSERT_NE(sof, std::string::npos) << "no SOF marker in " << files.front().name;
  for (size_t k : {5, 7}) {  // height and width: 60000 (libjpeg's own ceiling is 65500 per side)
    bytes[sof + k] = '\xEA';
    bytes[sof + k + 1] = '\x60';
  }
  std::vector<uint8_t> rgb;
  int w = 0, h = 0;
  EXPECT_EQ(decode_jpeg_rgb(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), rgb, w, h),
            JpegStatus::kTooLarge);
  EXPECT_TRUE(rgb.empty());
  ImageRef bomb{"bomb.jpg", std::make_shared<const std::string>(bytes), nullptr};
  try {
    decode_image(bomb);
    FAIL() << "a 60000x60000 JPEG header was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.jpg"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("60000x60000"), std::string::npos) << e.what();
  }
}

TEST(JpegDecode, TruncatedOrCorruptDataIsAnError) {
  TempDir d;
  const auto files = make_jpegs(d);
  ASSERT_FALSE(files.empty());
  ASSERT_EQ(files.back().name, "truncated.jpg");
  EXPECT_TRUE(files.back().refused) << "PIL decoded a truncated JPEG; the premise of this test changed";
  try {
    decode_image(ImageRef::file(d / "truncated.jpg"));
    FAIL() << "a truncated JPEG decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated.jpg"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  // A JPEG signature followed by garbage: libjpeg's fatal error comes back as kNotHandled (no
  // crash, no exit), and decode_image reports an undecodable image naming it.
  const std::string garbage = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(64, '\x55');
  std::vector<uint8_t> pixels;
  int gw = 0, gh = 0;
  EXPECT_EQ(decode_jpeg_rgb(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size(), pixels, gw, gh),
            JpegStatus::kNotHandled);
  ImageRef bad{"x.parquet#row=9", std::make_shared<const std::string>(garbage), nullptr};
  try {
    decode_image(bad);
    FAIL() << "garbage after a JPEG signature decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.parquet#row=9"), std::string::npos) << e.what();
  }
  // Not a JPEG at all: the decoder declines and leaves it to the general path.
  const std::string png = "\x89PNG\r\n\x1a\n";
  std::vector<uint8_t> rgb;
  int w = 0, h = 0;
  EXPECT_EQ(decode_jpeg_rgb(reinterpret_cast<const uint8_t*>(png.data()), png.size(), rgb, w, h),
            JpegStatus::kNotHandled);
}

TEST(JpegDecode, LoadPreprocessedEqualsDecodeThenPreprocess) {
  TempDir d;
  const auto files = make_jpegs(d);
  ImageTransform clip;  // shortest edge 224, bicubic, crop 224: upscaling these small files
  ImageTransform small;
  small.resize = 24;
  small.crop = 20;
  small.interpolation = "bilinear";
  ImageTransform padded = small;  // LLaVA pad: the general path
  padded.pad_to_square = true;
  ImageTransform big_crop = small;  // crop larger than the resized image: zero padding, general path
  big_crop.crop = 40;
  for (const auto& e : files) {
    if (e.refused) continue;
    SCOPED_TRACE(e.name);
    const ImageRef ref = ImageRef::file(d / e.name);
    for (const ImageTransform* t : {&clip, &small, &padded, &big_crop}) {
      const at::Tensor fused = load_preprocessed(ref, *t);
      const at::Tensor plain = to_normalized_tensor(transform_pixels(decode_image(ref), *t), *t);
      ASSERT_EQ(fused.sizes(), plain.sizes());
      EXPECT_TRUE(at::equal(fused, plain));
    }
  }
}
