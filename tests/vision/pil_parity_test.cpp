// Parity with Pillow (Debian python3-pil, the library every reference processor uses): resampling in
// every mode, decoding of the formats datasets ship, and the full processors. Random images and sizes
// are made here, tests/oracles/vision/pil_oracle.py computes the reference outputs in one subprocess per test.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/preprocessor.h"
#include "medvlmbench/vision/resample.h"
#include "support/test_support.h"

using namespace mvb;
using mvb::test::TempDir;

namespace {

// Smooth-ish random content (gradients + noise) so filters see both edges and flat regions.
RgbImage random_image(std::mt19937& rng, int w, int h) {
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  const int mode = static_cast<int>(rng() % 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        int v = mode == 0 ? static_cast<int>(rng() % 256)
                          : (x * 255 / std::max(1, w - 1) + y * 7 * (c + 1) + static_cast<int>(rng() % 40)) % 256;
        img.pixels[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(v);
      }
  return img;
}

void save_raw(const std::string& path, const RgbImage& img) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(img.pixels.data()), static_cast<std::streamsize>(img.pixels.size()));
}

std::vector<uint8_t> load_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<float> load_floats(const std::string& path) {
  const auto b = load_bytes(path);
  std::vector<float> out(b.size() / 4);
  std::memcpy(out.data(), b.data(), out.size() * 4);
  return out;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 999;
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i])));
  return m;
}

float max_abs_diff(const at::Tensor& t, const std::vector<float>& ref) {
  at::Tensor c = t.contiguous();
  if (static_cast<size_t>(c.numel()) != ref.size()) return 1e9f;
  const float* p = c.data_ptr<float>();
  float m = 0;
  for (size_t i = 0; i < ref.size(); ++i) m = std::max(m, std::abs(p[i] - ref[i]));
  return m;
}

// tests/oracles/vision/pil_oracle.py COMMAND DIR (Debian's python3-pil and python3-numpy).
mvb::test::CommandResult pil_oracle(const std::string& command, const TempDir& d) {
  return mvb::test::run_oracle_script(mvb::test::OracleInterpreter::kDebianPython, "vision/pil_oracle.py",
                                      {command, d.path()});
}

}  // namespace

TEST(PilParity, ResampleEveryFilterRandomSizes) {
  TempDir d;
  std::mt19937 rng(42);
  nlohmann::json cases = nlohmann::json::array();
  std::vector<RgbImage> outs;
  const std::vector<std::string> filters = {"nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"};
  for (int i = 0; i < 60; ++i) {
    const int w = 1 + static_cast<int>(rng() % 300), h = 1 + static_cast<int>(rng() % 300);
    // Up- and downscaling, including extreme reductions where PIL's support widening matters.
    const int ow = 1 + static_cast<int>(rng() % (i % 3 == 0 ? 40 : 400));
    const int oh = 1 + static_cast<int>(rng() % (i % 4 == 0 ? 40 : 400));
    const std::string f = filters[i % filters.size()];
    RgbImage img = random_image(rng, w, h);
    save_raw(d / ("in" + std::to_string(i)), img);
    outs.push_back(pil_resize(img, ow, oh, parse_resample(f)));
    cases.push_back({{"i", i}, {"w", w}, {"h", h}, {"ow", ow}, {"oh", oh}, {"f", f}});
  }
  mvb::test::write_text(d / "cases.json", cases.dump());
  auto r = pil_oracle("resample", d);
  ASSERT_EQ(r.exit_code, 0);
  for (size_t i = 0; i < outs.size(); ++i) {
    SCOPED_TRACE(cases[i].dump());
    // Bit-exact: a transcription of PIL's fixed-point resampler (the issue allows 1/255 for
    // processors and demands exact for nearest; we hold every filter to exact).
    EXPECT_EQ(max_abs_diff(outs[i].pixels, load_bytes(d / ("out" + std::to_string(i)))), 0);
  }
}

TEST(PilParity, DecodeMatchesPilConvertRgb) {
  TempDir d;
  // PIL writes the files; both sides decode them. 16-bit grayscale is the interesting case: PIL's
  // convert("RGB") clips values above 255 instead of rescaling.
  auto r = pil_oracle("decode", d);
  ASSERT_EQ(r.exit_code, 0);
  std::istringstream lines(r.out);
  std::string name;
  int w, h, n = 0;
  while (lines >> name >> w >> h) {
    SCOPED_TRACE(name);
    RgbImage img = decode_image(ImageRef::file(d / name));
    EXPECT_EQ(img.width, w);
    EXPECT_EQ(img.height, h);
    EXPECT_EQ(max_abs_diff(img.pixels, load_bytes(d / (name + ".ref"))), 0);
    ++n;
  }
  EXPECT_EQ(n, 10);
  // Embedded bytes decode the same way; garbage is a clear error naming the source.
  ImageRef emb{"x.parquet#row=3", std::make_shared<const std::string>(mvb::test::read_text(d / "q.jpg")), nullptr};
  EXPECT_EQ(decode_image(emb).pixels, decode_image(ImageRef::file(d / "q.jpg")).pixels);
  ImageRef bad{"x.parquet#row=4", std::make_shared<const std::string>("not an image"), nullptr};
  try {
    decode_image(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.parquet#row=4"), std::string::npos);
  }
  EXPECT_THROW(decode_image(ImageRef::file(d / "missing.png")), Error);
}

// The CLIP/SigLIP/BLIP/LLaVA-pad pipelines against a NumPy transcription of transformers'
// image_transforms (resize via PIL, center_crop, rescale, normalize) and LLaVA's expand2square.
TEST(PilParity, ProcessorsFromPreprocessorConfig) {
  TempDir d;
  std::mt19937 rng(7);
  const std::vector<nlohmann::json> configs = {
      // openai/clip-vit-base-patch16
      {{"image_processor_type", "CLIPImageProcessor"},
       {"do_resize", true},
       {"size", {{"shortest_edge", 224}}},
       {"resample", 3},
       {"do_center_crop", true},
       {"crop_size", {{"height", 224}, {"width", 224}}},
       {"do_rescale", true},
       {"rescale_factor", 0.00392156862745098},
       {"do_normalize", true},
       {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
       {"image_std", {0.26862954, 0.26130258, 0.27577711}}},
      // old CLIPFeatureExtractor style (bare ints), LLaVA-1.5's clip-vit-large-patch14-336
      {{"feature_extractor_type", "CLIPFeatureExtractor"},
       {"size", 336},
       {"crop_size", 336},
       {"do_center_crop", true},
       {"resample", 3},
       {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
       {"image_std", {0.26862954, 0.26130258, 0.27577711}},
       {"pad", true}},
      // google/siglip-base-patch16-224
      {{"image_processor_type", "SiglipImageProcessor"},
       {"size", {{"height", 224}, {"width", 224}}},
       {"resample", 3},
       {"image_mean", {0.5, 0.5, 0.5}},
       {"image_std", {0.5, 0.5, 0.5}},
       {"rescale_factor", 0.00392156862745098}},
      // BLIP (bilinear exact resize), and a bilinear shortest-edge CLIP variant
      {{"image_processor_type", "BlipImageProcessor"},
       {"size", {{"height", 384}, {"width", 384}}},
       {"resample", 2},
       {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
       {"image_std", {0.26862954, 0.26130258, 0.27577711}}},
      {{"image_processor_type", "CLIPImageProcessor"},
       {"size", {{"shortest_edge", 96}}},
       {"resample", 2},
       {"do_center_crop", true},
       {"crop_size", {{"height", 80}, {"width", 112}}}},
  };
  nlohmann::json cases = nlohmann::json::array();
  std::vector<at::Tensor> outs;
  int i = 0;
  for (size_t ci = 0; ci < configs.size(); ++ci) {
    for (int k = 0; k < 6; ++k, ++i) {
      const int w = 16 + static_cast<int>(rng() % 500), h = 16 + static_cast<int>(rng() % 500);
      RgbImage img = random_image(rng, w, h);
      save_raw(d / ("in" + std::to_string(i)), img);
      ImageTransform t = image_transform_from_json(configs[ci], "cfg");
      t.pad_to_square = configs[ci].value("pad", false);
      outs.push_back(preprocess(img, t));
      cases.push_back({{"i", i}, {"w", w}, {"h", h}, {"cfg", configs[ci]}});
    }
  }
  mvb::test::write_text(d / "cases.json", cases.dump());
  auto r = pil_oracle("processors", d);
  ASSERT_EQ(r.exit_code, 0);
  for (size_t k = 0; k < outs.size(); ++k) {
    SCOPED_TRACE(cases[k].dump());
    const auto ref = load_floats(d / ("out" + std::to_string(k)));
    // Pixels are bit-exact, so only float32 rounding of (x - mean) / std remains.
    EXPECT_LE(max_abs_diff(outs[k], ref), 1e-5f);
  }
}

TEST(PilParity, TorchvisionStyleCenterCropRounding) {
  // torchvision CenterCrop uses round((h - ch) / 2) with Python's half-to-even rounding.
  RgbImage img;
  img.width = 7;
  img.height = 6;
  for (int i = 0; i < 7 * 6 * 3; ++i) img.pixels.push_back(static_cast<uint8_t>(i));
  RgbImage a = center_crop(img, 4, 3, "round");  // offsets round(1.5)=2, round(1.5)=2
  EXPECT_EQ(a.pixels[0], img.pixels[(2 * 7 + 2) * 3]);
  RgbImage b = center_crop(img, 4, 3, "floor");  // offsets 1, 1
  EXPECT_EQ(b.pixels[0], img.pixels[(1 * 7 + 1) * 3]);
  RgbImage c = center_crop(img, 2, 2, "round");  // round(2.5)=2, round(2.0)=2
  EXPECT_EQ(c.pixels[0], img.pixels[(2 * 7 + 2) * 3]);
  EXPECT_THROW(center_crop(img, 2, 2, "ceil"), Error);
}

TEST(PilParity, InternVLDynamicTiles) {
  TempDir d;
  std::mt19937 rng(5);
  nlohmann::json cases = nlohmann::json::array();
  std::vector<std::vector<RgbImage>> outs;
  for (int i = 0; i < 8; ++i) {
    const int w = 20 + static_cast<int>(rng() % 300), h = 20 + static_cast<int>(rng() % 300);
    RgbImage img = random_image(rng, w, h);
    save_raw(d / ("in" + std::to_string(i)), img);
    outs.push_back(internvl_dynamic_tiles(img, 1, 6, 64, true));
    cases.push_back({{"i", i}, {"w", w}, {"h", h}});
  }
  mvb::test::write_text(d / "cases.json", cases.dump());
  // InternVL's dynamic_preprocess (README / chat code), verbatim apart from the PIL import.
  auto r = pil_oracle("internvl", d);
  ASSERT_EQ(r.exit_code, 0);
  std::istringstream lines(r.out);
  for (size_t k = 0; k < outs.size(); ++k) {
    SCOPED_TRACE(cases[k].dump());
    size_t n = 0;
    lines >> n;
    ASSERT_EQ(outs[k].size(), n);
    std::vector<uint8_t> all;
    for (const auto& t : outs[k]) all.insert(all.end(), t.pixels.begin(), t.pixels.end());
    EXPECT_EQ(max_abs_diff(all, load_bytes(d / ("out" + std::to_string(k)))), 0);
  }
}

TEST(PilParity, LoadImageTransformErrors) {
  TempDir d;
  EXPECT_THROW(load_image_transform(d.path()), Error);
  mvb::test::write_text(d / "preprocessor_config.json", R"({"size": {"longest": 3}})");
  EXPECT_THROW(load_image_transform(d.path()), Error);
  mvb::test::write_text(d / "preprocessor_config.json", R"({"size": 224, "resample": 9})");
  EXPECT_THROW(load_image_transform(d.path()), Error);
  mvb::test::write_text(d / "preprocessor_config.json",
                        R"({"image_processor_type": "SiglipImageProcessor", "size": 384, "do_normalize": false})");
  ImageTransform t = load_image_transform(d.path());
  EXPECT_EQ(t.resize_mode, "exact");
  EXPECT_EQ(t.resize_width, 384);
  EXPECT_FALSE(t.normalize);
  EXPECT_EQ(t.crop, 0);
}
