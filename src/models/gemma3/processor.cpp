#include "medvlmbench/models/gemma3/processor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb::gemma3 {
namespace {

// UTF-8 -> code points; invalid bytes become U+FFFD one byte at a time, as Python decodes with "replace"
// (the texts here come from our own UTF-8 strings, so this only guards against crashes).
std::vector<char32_t> decode_utf8(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string encode_utf8(const std::vector<char32_t>& cps, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) append_utf8(out, cps[i]);
  return out;
}

// Python's str.isspace() code points, which Jinja's `trim` (str.strip()) removes.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string py_strip(const std::string& s) {
  const std::vector<char32_t> cps = decode_utf8(s);
  size_t b = 0, e = cps.size();
  while (b < e && py_space(cps[b])) ++b;
  while (e > b && py_space(cps[e - 1])) --e;
  if (b == 0 && e == cps.size()) return s;  // keeps any invalid bytes as they were
  return encode_utf8(cps, b, e);
}

void paste(RgbImage& canvas, const RgbImage& tile, int x, int y) {
  for (int r = 0; r < tile.height; ++r) {
    const int cy = y + r;
    if (cy < 0 || cy >= canvas.height) continue;
    for (int col = 0; col < tile.width; ++col) {
      const int cx = x + col;
      if (cx < 0 || cx >= canvas.width) continue;
      for (int ch = 0; ch < 3; ++ch)
        canvas.pixels[(static_cast<size_t>(cy) * canvas.width + cx) * 3 + ch] =
            tile.pixels[(static_cast<size_t>(r) * tile.width + col) * 3 + ch];
    }
  }
}

}  // namespace

ImageConfig load_image_config(const std::string& model_dir) {
  ImageConfig c;
  const std::string file = io::join_path(model_dir, "preprocessor_config.json");
  MVB_CHECK(io::exists(file), "missing ", file, "; the Gemma3 checkpoint folder needs its preprocessor_config.json");
  const nlohmann::json j = io::read_json(file);
  MVB_CHECK(j.is_object(), file, " is not a JSON object");
  const std::string type = nn::hf::get_string(j, "image_processor_type", "Gemma3ImageProcessor", file);
  MVB_CHECK(type == "Gemma3ImageProcessor" || type == "Gemma3ImageProcessorFast", file, ": image_processor_type \"",
            type, "\" is not Gemma3's");
  MVB_CHECK(!nn::hf::get_bool(j, "do_pan_and_scan", false, file), file,
            ": do_pan_and_scan = true is not supported (the reference runs with pan-and-scan off; set it to null)");
  if (nn::hf::has(j, "size")) {
    const auto& s = j["size"];
    MVB_CHECK(s.is_object() && s.contains("height") && s.contains("width"), file,
              ": size must be {\"height\": H, \"width\": W} (got ", s.dump(), ")");
    c.height = static_cast<int>(nn::hf::get_int(s, "height", 224, file + " size"));
    c.width = static_cast<int>(nn::hf::get_int(s, "width", 224, file + " size"));
    MVB_CHECK(c.height > 0 && c.width > 0, file, ": size must be positive");
  }
  if (nn::hf::has(j, "resample")) {
    MVB_CHECK(j["resample"].is_number_integer(), file, ": resample must be a PIL code 0..5");
    c.resample = resample_from_pil_code(j["resample"].get<int>());
  }
  c.do_resize = nn::hf::get_bool(j, "do_resize", true, file);
  c.do_rescale = nn::hf::get_bool(j, "do_rescale", true, file);
  c.do_normalize = nn::hf::get_bool(j, "do_normalize", true, file);
  c.rescale_factor = nn::hf::get_double(j, "rescale_factor", 1.0 / 255.0, file);
  read_rgb_triplet(j, "image_mean", &c.mean, file);
  read_rgb_triplet(j, "image_std", &c.std, file);
  c.image_seq_length = nn::hf::get_int(j, "image_seq_length", 256, file);
  // Gemma3Processor(image_seq_length=...) comes from processor_config.json when the folder has one.
  const std::string pfile = io::join_path(model_dir, "processor_config.json");
  if (io::exists(pfile)) c.image_seq_length = nn::hf::get_int(io::read_json(pfile), "image_seq_length", 256, pfile);
  MVB_CHECK(c.image_seq_length > 0, file, ": image_seq_length must be positive");
  return c;
}

at::Tensor preprocess_image(const RgbImage& img, const ImageConfig& cfg) {
  RgbImage resized = cfg.do_resize ? pil_resize(img, cfg.width, cfg.height, cfg.resample) : img;
  ImageTransform t;
  t.resize_mode = "none";
  t.crop = 0;
  t.rescale_factor = cfg.do_rescale ? cfg.rescale_factor : 1.0;
  t.normalize = cfg.do_normalize;
  t.mean = cfg.mean;
  t.std = cfg.std;
  return to_normalized_tensor(resized, t);
}

std::string render_prompt(const std::string& question, int n_images, const std::string& system_prompt) {
  // The published template: "{{ bos_token }}", the system text (not trimmed) + "\n\n" opening the first user turn,
  // the content items in order (images first, as the reference builds them), each text item `| trim`med.
  std::string s = "<bos><start_of_turn>user\n";
  if (!system_prompt.empty()) s += system_prompt + "\n\n";
  for (int i = 0; i < n_images; ++i) s += "<start_of_image>";
  s += py_strip(question);
  s += "<end_of_turn>\n<start_of_turn>model\n";
  return s;
}

std::string expand_image_tokens(const std::string& rendered, int64_t image_seq_length) {
  std::string full = "\n\n<start_of_image>";
  for (int64_t i = 0; i < image_seq_length; ++i) full += "<image_soft_token>";
  full += "<end_of_image>\n\n";
  return replace_all(rendered, "<start_of_image>", full);
}

std::pair<int, int> thumbnail_size(int width, int height, int max_w, int max_h) {
  // PIL Image.thumbnail's preserve_aspect_ratio (Pillow 9-12).
  int x = max_w, y = max_h;
  if (x >= width && y >= height) return {width, height};
  const double aspect = static_cast<double>(width) / height;
  auto round_aspect = [](double number, auto key) {
    const int lo = static_cast<int>(std::floor(number)), hi = static_cast<int>(std::ceil(number));
    // min(floor, ceil, key=key): the first on ties.
    return std::max(key(hi) < key(lo) ? hi : lo, 1);
  };
  if (static_cast<double>(x) / y >= aspect) {
    x = round_aspect(y * aspect, [&](int n) { return std::abs(aspect - static_cast<double>(n) / y); });
  } else {
    y = round_aspect(x / aspect, [&](int n) { return n == 0 ? 0.0 : std::abs(aspect - static_cast<double>(x) / n); });
  }
  return {x, y};
}

RgbImage compose_panel(const std::vector<RgbImage>& images, int panel_size, int padding) {
  MVB_CHECK(!images.empty(), "compose_panel of no images");
  if (images.size() == 1) return images[0];
  const int n = static_cast<int>(images.size());
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int rows = (n + cols - 1) / cols;
  const int cell_w = std::max(1, (panel_size - padding * (cols + 1)) / cols);
  const int cell_h = std::max(1, (panel_size - padding * (rows + 1)) / rows);
  RgbImage canvas;
  canvas.width = canvas.height = panel_size;
  canvas.pixels.assign(static_cast<size_t>(panel_size) * panel_size * 3, 0);
  for (int idx = 0; idx < n; ++idx) {
    const RgbImage& im = images[static_cast<size_t>(idx)];
    const auto [tw, th] = thumbnail_size(im.width, im.height, cell_w, cell_h);
    // thumbnail(reducing_gap=2.0) first reduce()s by an integer factor when the image is 4x or more larger than
    // its cell; that two-step path is not reproduced (a panel image over 4x its cell is resized in one step,
    // which differs from PIL by a few grey levels at most).
    const RgbImage tile = (tw == im.width && th == im.height) ? im : pil_resize(im, tw, th, Resample::kLanczos);
    const int row = idx / cols, col = idx % cols;
    const int x0 = padding + col * (cell_w + padding), y0 = padding + row * (cell_h + padding);
    // Python floor division of a possibly negative difference.
    auto floordiv2 = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
    paste(canvas, tile, x0 + floordiv2(cell_w - tile.width), y0 + floordiv2(cell_h - tile.height));
  }
  return canvas;
}

size_t code_point_count(const std::string& text) { return decode_utf8(text).size(); }

std::string truncate_text_middle(const std::string& text, size_t max_chars) {
  const std::vector<char32_t> cps = decode_utf8(text);
  if (cps.size() <= max_chars) return text;
  const std::string marker = "\n[... truncated ...]\n";  // 21 characters, all ASCII
  if (max_chars <= marker.size() + 8) return encode_utf8(cps, cps.size() - max_chars, cps.size());
  const size_t head = (max_chars - marker.size()) / 2;
  const size_t tail = max_chars - marker.size() - head;
  return encode_utf8(cps, 0, head) + marker + encode_utf8(cps, cps.size() - tail, cps.size());
}

}  // namespace mvb::gemma3
