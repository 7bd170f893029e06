// LLaVA's processor: conversation templates, <image> splicing, Python's random for LLaVA-Med's padding
// offset, expand2square and CLIP preprocessing. Semantics follow the reference's vendored LLaVA code
// (ubc-tea/MedVLMBench model/release/llava{,_med}: conversation.py, mm_utils.py) and model/llava*.py.
#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/models/llava/llava.h"

namespace mvb::llava {
namespace {

// conv_templates["vicuna_v1"].system
constexpr const char* kVicunaSystem =
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions.";

}  // namespace

std::string render_prompt(Conversation conv, const std::string& question, bool with_image, bool im_start_end) {
  // llava.py / llava_med.py: the question without "<image>", stripped, behind the image token.
  std::string msg = trim(replace_all(question, "<image>", ""));
  if (with_image) msg = (im_start_end ? "<im_start><image><im_end>\n" : "<image>\n") + msg;
  switch (conv) {
    case Conversation::kVicunaV1:
      // SeparatorStyle.TWO (sep " ", sep2 "</s>") with an open assistant turn.
      return std::string(kVicunaSystem) + " USER: " + msg + " ASSISTANT:";
    case Conversation::kMistralInstruct:
      // SeparatorStyle.LLAMA_2 with system "" (no <<SYS>> block) and sep "": BOS comes from the tokenizer.
      return "[INST] " + msg + " [/INST]";
  }
  return msg;
}

std::vector<int64_t> tokenize_with_image(const text::Tokenizer& tok, const std::string& prompt,
                                         int64_t image_token_index) {
  std::vector<std::vector<int32_t>> chunks;
  size_t pos = 0;
  while (true) {
    const size_t hit = prompt.find("<image>", pos);
    chunks.push_back(tok.encode(prompt.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos),
                                /*add_special_tokens=*/true));
    if (hit == std::string::npos) break;
    pos = hit + 7;
  }
  // The first chunk's BOS is kept once; every chunk then loses its first `offset` tokens (the BOS a
  // chunk's own tokenization starts with), and the image index goes between chunks.
  std::vector<int64_t> ids;
  size_t offset = 0;
  const int32_t bos = tok.special_tokens().bos.id;
  if (!chunks[0].empty() && bos >= 0 && chunks[0][0] == bos) {
    offset = 1;
    ids.push_back(bos);
  }
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (c > 0) ids.push_back(image_token_index);
    for (size_t i = offset; i < chunks[c].size(); ++i) ids.push_back(chunks[c][i]);
  }
  return ids;
}

// ---------------------------------------------------------------- CPython's random (_randommodule.c)
void PythonRandom::seed_int(uint64_t seed) {
  // random.seed(n): the key is |n| in 32-bit little-endian words ([0] for 0), then init_by_array.
  std::vector<uint32_t> key;
  for (uint64_t n = seed; n != 0; n >>= 32) key.push_back(static_cast<uint32_t>(n & 0xffffffffu));
  if (key.empty()) key.push_back(0);
  mt_[0] = 19650218u;
  for (int i = 1; i < 624; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  size_t i = 1, j = 0;
  const size_t n = key.size();
  for (size_t k = std::max<size_t>(624, n); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= 624) {
      mt_[0] = mt_[623];
      i = 1;
    }
    if (j >= n) j = 0;
  }
  for (size_t k = 623; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= 624) {
      mt_[0] = mt_[623];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;
  index_ = 624;
}

uint32_t PythonRandom::genrand_uint32() {
  constexpr uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrix = 0x9908b0dfu;
  if (index_ >= 624) {
    for (int k = 0; k < 624; ++k) {
      const uint32_t y = (mt_[k] & kUpper) | (mt_[(k + 1) % 624] & kLower);
      mt_[k] = mt_[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? kMatrix : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

uint32_t PythonRandom::getrandbits(int k) {
  MVB_CHECK(k >= 1 && k <= 32, "getrandbits(", k, "): 1..32 bits only");
  return genrand_uint32() >> (32 - k);
}

int64_t PythonRandom::randint(int64_t a, int64_t b) {
  MVB_CHECK(b >= a && b - a < (int64_t{1} << 32), "randint(", a, ", ", b, "): empty or too wide a range");
  // randrange -> _randbelow_with_getrandbits(n): draw n.bit_length() bits until below n.
  const uint64_t n = static_cast<uint64_t>(b - a + 1);
  int k = 0;
  while ((n >> k) != 0) ++k;
  if (k > 32) k = 32;
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return a + static_cast<int64_t>(r);
}

// ---------------------------------------------------------------- images
std::array<uint8_t, 3> mean_colour(const ImageTransform& t) {
  std::array<uint8_t, 3> bg{};
  // int(x * 255) on the Python float of the config's mean (truncation).
  for (int c = 0; c < 3; ++c) bg[c] = static_cast<uint8_t>(static_cast<int>(static_cast<double>(t.mean[c]) * 255));
  return bg;
}

RgbImage expand2square(const RgbImage& img, std::array<uint8_t, 3> background, PythonRandom* rng) {
  if (img.width == img.height) return img;  // no draw for square images, as the reference
  const int side = std::max(img.width, img.height);
  int64_t offset = (side - std::min(img.width, img.height)) / 2;
  if (rng) offset = rng->randint(offset, offset + 1);
  RgbImage out;
  out.width = out.height = side;
  out.pixels.resize(static_cast<size_t>(side) * side * 3);
  for (size_t i = 0; i < out.pixels.size(); i += 3)
    for (int c = 0; c < 3; ++c) out.pixels[i + c] = background[c];
  const int x0 = img.width > img.height ? 0 : static_cast<int>(offset);
  const int y0 = img.width > img.height ? static_cast<int>(offset) : 0;
  // PIL paste clips what falls outside the canvas (offset c + 1 when the sides differ by one).
  for (int y = 0; y < img.height && y0 + y < side; ++y) {
    const int w = std::min(img.width, side - x0);
    std::copy_n(img.pixels.data() + static_cast<size_t>(y) * img.width * 3, static_cast<size_t>(w) * 3,
                out.pixels.data() + (static_cast<size_t>(y0 + y) * side + x0) * 3);
  }
  return out;
}

at::Tensor process_image(const RgbImage& img, const LlavaConfig& cfg, PythonRandom* rng) {
  if (!cfg.pad_to_square) return preprocess(img, cfg.transform);
  return preprocess(expand2square(img, mean_colour(cfg.transform), rng), cfg.transform);
}

at::Tensor process_image_twice(const RgbImage& img, const LlavaConfig& cfg, PythonRandom* rng) {
  const at::Tensor first = process_image(img, cfg, rng).contiguous();
  // torchvision to_pil_image on a float tensor: pic.mul(255).byte() (out-of-range values wrap or
  // saturate as the CPU cast does), then HWC 8-bit RGB.
  const at::Tensor bytes = first.mul(255).to(at::kByte).permute({1, 2, 0}).contiguous();
  RgbImage again;
  again.height = static_cast<int>(bytes.size(0));
  again.width = static_cast<int>(bytes.size(1));
  again.pixels.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  // The second pass pads nothing (the image is square now) and so draws no random offset.
  return process_image(again, cfg, rng);
}

}  // namespace mvb::llava
