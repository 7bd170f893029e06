#include "medvlmbench/models/contrastive_towers.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb {

TextBatch tokenize_batch(const text::Tokenizer& tok, const std::vector<std::string>& texts, int64_t max_len,
                         int64_t pad_id, int64_t pad_to) {
  MVB_CHECK(!texts.empty(), "no texts to tokenise");
  if (pad_id < 0) pad_id = tok.special_tokens().pad.present() ? tok.special_tokens().pad.id : 0;
  std::vector<std::vector<int32_t>> rows;
  int64_t longest = 0;
  for (const auto& t : texts) {
    std::vector<int32_t> ids = tok.encode(t, /*add_special_tokens=*/true);
    if (max_len > 0 && static_cast<int64_t>(ids.size()) > max_len) {
      // transformers truncates the text and then adds the special tokens; keeping the final special
      // token (EOS / SEP) after the cut gives the same ids.
      const int32_t last = ids.back();
      ids.resize(static_cast<size_t>(max_len));
      if (tok.is_special_id(last)) ids.back() = last;
    }
    longest = std::max<int64_t>(longest, static_cast<int64_t>(ids.size()));
    rows.push_back(std::move(ids));
  }
  const int64_t len = pad_to > 0 ? std::max(pad_to, longest) : longest;
  TextBatch b;
  b.input_ids = at::full({static_cast<int64_t>(rows.size()), len}, pad_id, at::kLong);
  b.attention_mask = at::zeros({static_cast<int64_t>(rows.size()), len}, at::kLong);
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto mask = b.attention_mask.accessor<int64_t, 2>();
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ids[i][j] = rows[i][j];
      mask[i][j] = 1;
    }
  return b;
}

ContrastiveTowers::ContrastiveTowers(const ModelSpec& spec)
    : spec_(spec), checkpoint_dir_(resolve_checkpoint_dir(spec)), device_(spec.device), dtype_(resolve_dtype(spec)) {}

at::Tensor ContrastiveTowers::encode_image(const at::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  return image_features(pixel_values.to(device_, dtype_)).to(at::kFloat);
}

at::Tensor ContrastiveTowers::encode_text(const std::vector<std::string>& texts) {
  torch::NoGradGuard no_grad;
  return text_features(tokenize(texts)).to(at::kFloat);
}

at::Tensor ContrastiveTowers::logits_per_image(const at::Tensor& img, const at::Tensor& txt) const {
  at::Tensor i = img / img.norm(2, -1, true);
  at::Tensor t = txt / txt.norm(2, -1, true);
  return at::matmul(i, t.t()) * logit_scale() + logit_bias();
}

nlohmann::json ContrastiveTowers::describe() const {
  int64_t params = 0;
  for (const auto& p : const_cast<ContrastiveTowers*>(this)->root().parameters()) params += p.numel();
  return {{"architecture", architecture_}, {"parameters", params},        {"dtype", std::string(c10::toString(dtype_))},
          {"checkpoint", checkpoint_dir_}, {"fingerprint", fingerprint_}, {"logit_scale", logit_scale()},
          {"logit_bias", logit_bias()}};
}

void ContrastiveTowers::finish_setup(const std::string& architecture) {
  architecture_ = architecture;
  if (device_.is_cpu()) nn::configure_cpu_threads();  // one intra-op thread per CPU (nn/cpu_threads.h)
  root().to(device_, dtype_);
  root().eval();
  for (auto& p : root().parameters()) p.set_requires_grad(false);
  // Every weight file in the folder (PMC-CLIP keeps three .pth files that StateDict::open does not pick).
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(checkpoint_dir_)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".safetensors" || ext == ".bin" || ext == ".pth" || ext == ".pt"))
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  for (const char* cfg : {"config.json", "open_clip_config.json", "preprocessor_config.json"}) {
    const std::string p = io::join_path(checkpoint_dir_, cfg);
    if (io::exists(p)) files.push_back(p);
  }
  // Features computed in bf16/fp16 differ from fp32 ones, so the precision is part of the cache key
  // (fp32 keeps the plain key, which earlier caches were written under).
  const std::string precision = dtype_ == at::kFloat ? "" : std::string("|") + c10::toString(dtype_);
  fingerprint_ = fingerprint_files(files, architecture + precision);
}

std::string resolve_checkpoint_dir(const ModelSpec& spec) {
  const std::string head = io::join_path(spec.model_path, "mvb_head.json");
  if (io::exists(head)) {
    const nlohmann::json h = read_json_file(head);
    const std::string base = h.value("base_model_path", "");
    MVB_CHECK(!base.empty(), head, " has no base_model_path; it was not written by `medvlmbench train`");
    MVB_CHECK(io::is_directory(base), head, " names base checkpoint ", base,
              " which is not a folder; move the checkpoint back or edit base_model_path");
    return base;
  }
  return spec.model_path;
}

at::ScalarType resolve_dtype(const ModelSpec& spec) {
  const std::string& d = spec.dtype;
  if (d == "fp32" || d == "float32") return at::kFloat;
  if (d == "fp16" || d == "float16") {
    // CPU LibTorch 1.13 has no fp16 matmul or LayerNorm kernels ("addmm_impl_cpu_ not implemented for
    // 'Half'"); say so before loading instead of failing mid-forward.
    MVB_USAGE_CHECK(!spec.device.is_cpu(), "dtype fp16 needs a CUDA device; on CPU use bf16 or fp32");
    return at::kHalf;
  }
  if (d == "bf16" || d == "bfloat16") return at::kBFloat16;
  MVB_USAGE_CHECK(d == "auto" || d.empty(), "unknown dtype '", d, "' (use auto, fp32, fp16 or bf16)");
  return spec.device.is_cuda() ? at::kBFloat16 : at::kFloat;
}

nlohmann::json read_json_file(const std::string& path) {
  MVB_CHECK(io::exists(path), path, " is missing; the checkpoint folder must hold it (see models/README.md)");
  try {
    return nlohmann::json::parse(io::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + " is not valid JSON: " + e.what());
  }
}

ImageTransform transform_from_preprocessor_config(const std::string& path, ImageTransform t) {
  // The checkpoint's own processor settings when it ships them (PIL-exact, vision/preprocessor.h).
  return io::exists(path) ? load_image_transform(path) : t;
}

int transform_output_size(const ImageTransform& t) {
  if (t.crop > 0) return t.crop_height > 0 ? t.crop_height : t.crop;
  if (t.resize_mode == "exact") return t.resize_height;
  return t.resize;
}

std::string fingerprint_files(const std::vector<std::string>& files, const std::string& salt) {
  // FNV-1a over names, sizes and the first/last MiB: cheap for multi-GB files, yet any re-download,
  // fine-tune or truncation changes it.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  mix(salt.data(), salt.size());
  for (const auto& f : files) {
    const std::string base = io::basename(f);
    mix(base.data(), base.size());
    std::ifstream in(f, std::ios::binary);
    MVB_CHECK(in.good(), "cannot read ", f);
    in.seekg(0, std::ios::end);
    const int64_t size = in.tellg();
    mix(&size, sizeof size);
    const int64_t chunk = 1 << 20;
    std::vector<char> buf(static_cast<size_t>(std::min(size, chunk)));
    in.seekg(0);
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    mix(buf.data(), buf.size());
    if (size > chunk) {
      in.seekg(size - chunk);
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      mix(buf.data(), buf.size());
    }
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::unique_ptr<ContrastiveTowers> make_contrastive_towers(const ModelSpec& in) {
  // Models registered for several tasks build their towers for diagnosis.
  ModelSpec spec = in;
  if (spec.task.empty()) spec.task = "diagnosis";
  std::unique_ptr<Model> model = model_registry().get(spec.name).factory(spec);
  auto* towers = dynamic_cast<ContrastiveTowers*>(model.get());
  MVB_USAGE_CHECK(towers != nullptr, "model '", spec.name, "' is not a contrastive image/text model");
  model.release();
  return std::unique_ptr<ContrastiveTowers>(towers);
}

}  // namespace mvb
