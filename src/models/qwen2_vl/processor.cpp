#include "medvlmbench/models/qwen2_vl/processor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/vision/preprocessor.h"
#include "medvlmbench/vision/resample.h"

namespace mvb::qwen2_vl {
namespace {

int positive_int(const nlohmann::json& v, const std::string& where, const char* what) {
  MVB_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, where, ": ", what, " must be a positive integer, got ",
            v.dump());
  return v.get<int>();
}

int64_t positive_int64(const nlohmann::json& v, const std::string& where, const char* what) {
  MVB_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, where, ": ", what, " must be a positive integer, got ",
            v.dump());
  return v.get<int64_t>();
}

// Both smart_resize variants. qwen_vl_utils (0.0.10) keeps a rounded side at least `factor`;
// transformers' Qwen2VLImageProcessor does not (a side under factor / 2 rounds to 0, which sends the
// image to the min_pixels branch). Both floor-branch sides are kept at least `factor` (qwen_vl_utils
// omits it there, but no aspect ratio under 200 can reach it with its limits).
std::pair<int, int> smart_resize_impl(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels,
                                      bool keep_factor) {
  MVB_CHECK(height > 0 && width > 0, "smart_resize of an empty image");
  const double ratio = static_cast<double>(std::max(height, width)) / std::min(height, width);
  MVB_CHECK(ratio <= 200, "absolute aspect ratio must be smaller than 200, got ", ratio);
  // std::nearbyint rounds half to even in the default rounding mode, as Python's round().
  auto round_by = [&](double v) { return static_cast<int64_t>(std::nearbyint(v / factor)) * factor; };
  auto floor_by = [&](double v) { return static_cast<int64_t>(std::floor(v / factor)) * factor; };
  auto ceil_by = [&](double v) { return static_cast<int64_t>(std::ceil(v / factor)) * factor; };
  const int64_t lo = keep_factor ? factor : 0;
  int64_t h_bar = std::max<int64_t>(lo, round_by(height));
  int64_t w_bar = std::max<int64_t>(lo, round_by(width));
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(static_cast<double>(height) * width / static_cast<double>(max_pixels));
    h_bar = std::max<int64_t>(factor, floor_by(height / beta));
    w_bar = std::max<int64_t>(factor, floor_by(width / beta));
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (static_cast<double>(height) * width));
    h_bar = ceil_by(height * beta);
    w_bar = ceil_by(width * beta);
  }
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

}  // namespace

ImageConfig image_config_from_json(const nlohmann::json& cfg, const std::string& where) {
  MVB_CHECK(cfg.is_object(), where, " is not a JSON object");
  ImageConfig q;
  if (cfg.contains("patch_size")) q.patch_size = positive_int(cfg["patch_size"], where, "patch_size");
  if (cfg.contains("temporal_patch_size"))
    q.temporal_patch_size = positive_int(cfg["temporal_patch_size"], where, "temporal_patch_size");
  if (cfg.contains("merge_size")) q.merge_size = positive_int(cfg["merge_size"], where, "merge_size");
  // Newer configs keep the limits in size {"shortest_edge": min, "longest_edge": max}.
  if (cfg.contains("size") && cfg["size"].is_object()) {
    const auto& s = cfg["size"];
    if (s.contains("shortest_edge")) q.min_pixels = positive_int64(s["shortest_edge"], where, "size.shortest_edge");
    if (s.contains("longest_edge")) q.max_pixels = positive_int64(s["longest_edge"], where, "size.longest_edge");
  }
  if (cfg.contains("min_pixels") && !cfg["min_pixels"].is_null())
    q.min_pixels = positive_int64(cfg["min_pixels"], where, "min_pixels");
  if (cfg.contains("max_pixels") && !cfg["max_pixels"].is_null())
    q.max_pixels = positive_int64(cfg["max_pixels"], where, "max_pixels");
  if (cfg.contains("resample") && !cfg["resample"].is_null()) {
    MVB_CHECK(cfg["resample"].is_number_integer(), where, ": resample must be a PIL code 0..5");
    q.interpolation = resample_name(resample_from_pil_code(cfg["resample"].get<int>()));
  }
  if (cfg.contains("rescale_factor") && !cfg["rescale_factor"].is_null())
    q.rescale_factor = cfg["rescale_factor"].get<double>();
  read_rgb_triplet(cfg, "image_mean", &q.mean, where);
  read_rgb_triplet(cfg, "image_std", &q.std, where);
  return q;
}

ImageConfig load_image_config(const std::string& model_dir) {
  const std::string file = io::join_path(model_dir, "preprocessor_config.json");
  MVB_CHECK(io::exists(file), "missing ", file, "; the Qwen2-VL checkpoint folder needs its preprocessor_config.json");
  return image_config_from_json(io::read_json(file), file);
}

std::pair<int, int> smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels) {
  return smart_resize_impl(height, width, factor, min_pixels, max_pixels, /*keep_factor=*/true);
}

Pixels preprocess_image(const RgbImage& img, const ImageConfig& cfg) {
  const int factor = cfg.patch_size * cfg.merge_size;
  const Resample resample = parse_resample(cfg.interpolation);
  // qwen_vl_utils.fetch_image: PIL's default filter for Image.resize (bicubic).
  const bool fixed = cfg.resized_height > 0 && cfg.resized_width > 0;
  const auto [h1, w1] = smart_resize(fixed ? cfg.resized_height : img.height, fixed ? cfg.resized_width : img.width,
                                     cfg.fetch_factor, cfg.fetch_min_pixels, cfg.fetch_max_pixels);
  RgbImage fetched = pil_resize(img, w1, h1, Resample::kBicubic);
  // The processor's own smart_resize of what fetch_image returned, and its resize when that differs.
  const auto [h, w] = smart_resize_impl(h1, w1, factor, cfg.min_pixels, cfg.max_pixels, /*keep_factor=*/false);
  if (h != h1 || w != w1) fetched = pil_resize(fetched, w, h, resample);
  ImageTransform t;
  t.resize_mode = "none";
  t.crop = 0;
  t.mean = cfg.mean;
  t.std = cfg.std;
  t.rescale_factor = cfg.rescale_factor;
  at::Tensor x = to_normalized_tensor(fetched, t);  // [3, h, w]
  // One image becomes `temporal_patch_size` identical frames, then the reference's reshape/transpose.
  const int64_t tp = cfg.temporal_patch_size, p = cfg.patch_size, m = cfg.merge_size;
  const int64_t gh = h / p, gw = w / p;
  at::Tensor frames = x.unsqueeze(0).expand({tp, 3, h, w});
  at::Tensor v = frames.reshape({1, tp, 3, gh / m, m, p, gw / m, m, p}).permute({0, 3, 6, 4, 7, 2, 1, 5, 8});
  Pixels out;
  out.patches = v.reshape({gh * gw, 3 * tp * p * p}).contiguous();
  out.grid_thw = {1, gh, gw};
  return out;
}

int64_t image_token_count(const std::array<int64_t, 3>& g, int64_t merge_size) {
  MVB_CHECK(g[0] > 0 && g[1] > 0 && g[2] > 0 && merge_size > 0, "Qwen2-VL image grid must be positive, got ", g[0], "x",
            g[1], "x", g[2]);
  return g[0] * g[1] * g[2] / (merge_size * merge_size);
}

std::string render_prompt(const std::string& question, const std::vector<int64_t>& image_tokens,
                          const std::string& system_prompt) {
  // The published chat template (Qwen/Qwen2-VL-7B-Instruct chat_template.json; Qwen2.5-VL and Lingshu
  // ship the same): a default system turn unless the first message is one, then the user turn with
  // its images before the text, then the generation prompt.
  std::string s = "<|im_start|>system\n";
  s += system_prompt.empty() ? "You are a helpful assistant." : system_prompt;
  s += "<|im_end|>\n<|im_start|>user\n";
  for (const int64_t n : image_tokens) {
    s += "<|vision_start|>";
    for (int64_t i = 0; i < n; ++i) s += "<|image_pad|>";
    s += "<|vision_end|>";
  }
  s += question + "<|im_end|>\n<|im_start|>assistant\n";
  return s;
}

at::Tensor image_relative_positions(const std::array<int64_t, 3>& g, int64_t m) {
  const int64_t t = g[0], h = g[1] / m, w = g[2] / m;
  at::Tensor tt = at::arange(t, at::kLong).view({t, 1, 1}).expand({t, h, w});
  at::Tensor hh = at::arange(h, at::kLong).view({1, h, 1}).expand({t, h, w});
  at::Tensor ww = at::arange(w, at::kLong).view({1, 1, w}).expand({t, h, w});
  return at::stack({tt.reshape({-1}), hh.reshape({-1}), ww.reshape({-1})}, 0);
}

std::pair<at::Tensor, int64_t> rope_index(const std::vector<int64_t>& ids, int64_t image_token_id,
                                          const std::vector<std::array<int64_t, 3>>& grids, int64_t m) {
  const int64_t L = static_cast<int64_t>(ids.size());
  at::Tensor pos = at::zeros({3, L}, at::kLong);
  int64_t next = 0;  // the position the next text token takes
  size_t image = 0;
  for (int64_t i = 0; i < L;) {
    if (ids[i] != image_token_id) {
      pos.select(1, i).fill_(next++);
      ++i;
      continue;
    }
    MVB_CHECK(image < grids.size(), "the prompt holds more images than the ", grids.size(), " given");
    const auto& g = grids[image++];
    const at::Tensor rel = image_relative_positions(g, m);
    const int64_t n = rel.size(1);
    MVB_CHECK(i + n <= L, "the prompt's image placeholders are fewer than the image's ", n, " tokens");
    pos.narrow(1, i, n).copy_(rel + next);
    next += std::max(g[1], g[2]) / m;
    i += n;
  }
  MVB_CHECK(image == grids.size(), "the prompt holds ", image, " images but ", grids.size(), " were given");
  const int64_t max = L > 0 ? pos.max().item<int64_t>() : -1;
  return {pos, max + 1 - L};
}

}  // namespace mvb::qwen2_vl
