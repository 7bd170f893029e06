// Parity with Pillow (Debian python3-pil, the library every reference processor uses): resampling in
// every mode, decoding of the formats datasets ship, and the full processors. Random images and sizes
// are made here, Python computes the reference outputs in one subprocess per test.
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

mvb::test::CommandResult python(const std::string& code, const std::vector<std::string>& args) {
  auto r = mvb::test::run_python(code, args);
  EXPECT_EQ(r.exit_code, 0) << "python3-pil oracle failed (is python3-pil installed?): " << r.err;
  return r;
}

const char* kPilHelpers = R"PY(
import json, math, sys
import numpy as np
from PIL import Image
def load(path, w, h):
    return Image.frombytes("RGB", (w, h), open(path, "rb").read())
)PY";

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
  auto r = python(std::string(kPilHelpers) + R"PY(
d = sys.argv[1]
F = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS,
     "box": Image.BOX, "hamming": Image.HAMMING}
for c in json.load(open(d + "/cases.json")):
    im = load(f"{d}/in{c['i']}", c["w"], c["h"])
    open(f"{d}/out{c['i']}", "wb").write(im.resize((c["ow"], c["oh"]), F[c["f"]]).tobytes())
)PY",
                  {d.path()});
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
  auto r = python(R"PY(
import sys, numpy as np
from PIL import Image
d = sys.argv[1]; rng = np.random.default_rng(0)
rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
gray = rng.integers(0, 256, (41, 29), dtype=np.uint8)
g16 = rng.integers(0, 1024, (23, 31), dtype=np.uint16)
Image.fromarray(rgb).save(d + "/rgb.png")
Image.fromarray(gray).save(d + "/gray.png")
Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(d + "/rgba.png")
Image.fromarray(g16).save(d + "/g16.png")
Image.fromarray(g16).save(d + "/g16.tif")
Image.fromarray(rgb).save(d + "/rgb.tif")
Image.fromarray(rgb).save(d + "/q.jpg", quality=87)
Image.fromarray(gray).save(d + "/gray.jpg", quality=90)
Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16).save(d + "/pal.png")
Image.fromarray(rgb).save(d + "/rgb.bmp")
for n in ["rgb.png", "gray.png", "rgba.png", "g16.png", "g16.tif", "rgb.tif", "q.jpg", "gray.jpg", "pal.png", "rgb.bmp"]:
    im = Image.open(d + "/" + n).convert("RGB")
    open(d + "/" + n + ".ref", "wb").write(im.tobytes())
    print(n, im.size[0], im.size[1])
)PY",
                  {d.path()});
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
  auto r = python(std::string(kPilHelpers) + R"PY(
def expand2square(pil_img, background_color):  # LLaVA llava/mm_utils.py
    width, height = pil_img.size
    if width == height: return pil_img
    elif width > height:
        result = Image.new(pil_img.mode, (width, width), background_color)
        result.paste(pil_img, (0, (width - height) // 2)); return result
    else:
        result = Image.new(pil_img.mode, (height, height), background_color)
        result.paste(pil_img, ((height - width) // 2, 0)); return result
def center_crop(image, size):  # transformers image_transforms.center_crop, channels-last
    oh, ow = image.shape[:2]; ch, cw = size
    top = (oh - ch) // 2; bottom = top + ch; left = (ow - cw) // 2; right = left + cw
    if top >= 0 and bottom <= oh and left >= 0 and right <= ow: return image[top:bottom, left:right]
    nh, nw = max(ch, oh), max(cw, ow)
    new = np.zeros((nh, nw) + image.shape[2:], dtype=image.dtype)
    tp = math.ceil((nh - oh) / 2); lp = math.ceil((nw - ow) / 2)
    new[tp:tp + oh, lp:lp + ow] = image
    top += tp; bottom += tp; left += lp; right += lp
    return new[max(0, top):min(nh, bottom), max(0, left):min(nw, right)]
d = sys.argv[1]
for c in json.load(open(d + "/cases.json")):
    cfg = c["cfg"]; im = load(f"{d}/in{c['i']}", c["w"], c["h"])
    mean = cfg.get("image_mean", [0.48145466, 0.4578275, 0.40821073]); std = cfg.get("image_std", [0.26862954, 0.26130258, 0.27577711])
    if cfg.get("pad"): im = expand2square(im, tuple(int(x * 255) for x in mean))
    size = cfg["size"]; rs = cfg.get("resample", 3)
    clip = "CLIP" in cfg.get("image_processor_type", cfg.get("feature_extractor_type", ""))
    if isinstance(size, int): size = {"shortest_edge": size} if clip else {"height": size, "width": size}
    if "shortest_edge" in size:
        w, h = im.size; short, long = (w, h) if w <= h else (h, w)
        s = size["shortest_edge"]; nl = int(s * long / short)
        im = im.resize((s, nl) if w <= h else (nl, s), rs)
    else:
        im = im.resize((size["width"], size["height"]), rs)
    a = np.array(im)
    if cfg.get("do_center_crop"):
        cs = cfg["crop_size"]; cs = (cs, cs) if isinstance(cs, int) else (cs["height"], cs["width"])
        a = center_crop(a, cs)
    a = (a.astype(np.float64) * cfg.get("rescale_factor", 1 / 255)).astype(np.float32)
    a = (a - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    open(f"{d}/out{c['i']}", "wb").write(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32).tobytes())
)PY",
                  {d.path()});
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

TEST(PilParity, Qwen2VLSmartResizeAndPatches) {
  TempDir d;
  std::mt19937 rng(11);
  nlohmann::json cases = nlohmann::json::array();
  std::vector<Qwen2VLPixels> outs;
  Qwen2VLConfig cfg;
  cfg.max_pixels = 28 * 28 * 64;  // small limits so both the shrink and grow branches run
  cfg.min_pixels = 28 * 28 * 8;
  // The same limits in the message (fetch_image's min_pixels / max_pixels): one resize, as below.
  cfg.fetch_max_pixels = cfg.max_pixels;
  cfg.fetch_min_pixels = cfg.min_pixels;
  for (int i = 0; i < 10; ++i) {
    const int w = 28 + static_cast<int>(rng() % 600), h = 28 + static_cast<int>(rng() % 400);
    RgbImage img = random_image(rng, w, h);
    save_raw(d / ("in" + std::to_string(i)), img);
    outs.push_back(qwen2vl_preprocess(img, cfg));
    cases.push_back({{"i", i}, {"w", w}, {"h", h}});
  }
  mvb::test::write_text(d / "cases.json", cases.dump());
  // transformers' Qwen2VLImageProcessor._preprocess (smart_resize, PIL bicubic, rescale, normalize,
  // temporal repeat, reshape/transpose), transcribed.
  auto r = python(std::string(kPilHelpers) + R"PY(
def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=14 * 14 * 4 * 1280):
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar
d = sys.argv[1]; ps, tps, ms = 14, 2, 2
mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32); std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
for c in json.load(open(d + "/cases.json")):
    im = load(f"{d}/in{c['i']}", c["w"], c["h"])
    rh, rw = smart_resize(c["h"], c["w"], 28, 28 * 28 * 8, 28 * 28 * 64)
    a = np.array(im.resize((rw, rh), Image.BICUBIC))
    a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    a = ((a - mean) / std).transpose(2, 0, 1)
    patches = np.array([a])
    patches = np.tile(patches, (tps, 1, 1, 1))
    gt, gh, gw = patches.shape[0] // tps, rh // ps, rw // ps
    patches = patches.reshape(gt, tps, 3, gh // ms, ms, ps, gw // ms, ms, ps).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    flat = patches.reshape(gt * gh * gw, 3 * tps * ps * ps)
    open(f"{d}/out{c['i']}", "wb").write(np.ascontiguousarray(flat, dtype=np.float32).tobytes())
    print(gt, gh, gw)
)PY",
                  {d.path()});
  ASSERT_EQ(r.exit_code, 0);
  std::istringstream lines(r.out);
  for (size_t k = 0; k < outs.size(); ++k) {
    SCOPED_TRACE(cases[k].dump());
    int64_t gt, gh, gw;
    lines >> gt >> gh >> gw;
    EXPECT_EQ(outs[k].grid_thw, (std::array<int64_t, 3>{gt, gh, gw}));
    EXPECT_LE(max_abs_diff(outs[k].patches, load_floats(d / ("out" + std::to_string(k)))), 1e-5f);
  }
  // Python rounds half to even: 42 / 28 = 1.5 -> 2, 70 / 28 = 2.5 -> 2.
  EXPECT_EQ(smart_resize(42, 70, 28, 1, 1 << 30), std::make_pair(56, 56));
  EXPECT_THROW(smart_resize(10, 3000, 28, 1, 1 << 30), Error);
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
  auto r = python(std::string(kPilHelpers) + R"PY(
def find_closest_aspect_ratio(aspect_ratio, target_ratios, width, height, image_size):
    best_ratio_diff = float('inf'); best_ratio = (1, 1); area = width * height
    for ratio in target_ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff; best_ratio = ratio
        elif ratio_diff == best_ratio_diff:
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]: best_ratio = ratio
    return best_ratio
def dynamic_preprocess(image, min_num=1, max_num=12, image_size=448, use_thumbnail=False):
    orig_width, orig_height = image.size
    aspect_ratio = orig_width / orig_height
    target_ratios = set((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                        if i * j <= max_num and i * j >= min_num)
    target_ratios = sorted(target_ratios, key=lambda x: x[0] * x[1])
    target_aspect_ratio = find_closest_aspect_ratio(aspect_ratio, target_ratios, orig_width, orig_height, image_size)
    target_width = image_size * target_aspect_ratio[0]; target_height = image_size * target_aspect_ratio[1]
    blocks = target_aspect_ratio[0] * target_aspect_ratio[1]
    resized_img = image.resize((target_width, target_height))
    processed_images = []
    for i in range(blocks):
        box = ((i % (target_width // image_size)) * image_size, (i // (target_width // image_size)) * image_size,
               ((i % (target_width // image_size)) + 1) * image_size, ((i // (target_width // image_size)) + 1) * image_size)
        processed_images.append(resized_img.crop(box))
    if use_thumbnail and len(processed_images) != 1:
        processed_images.append(image.resize((image_size, image_size)))
    return processed_images
d = sys.argv[1]
for c in json.load(open(d + "/cases.json")):
    tiles = dynamic_preprocess(load(f"{d}/in{c['i']}", c["w"], c["h"]), 1, 6, 64, True)
    open(f"{d}/out{c['i']}", "wb").write(b"".join(t.tobytes() for t in tiles))
    print(len(tiles))
)PY",
                  {d.path()});
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
