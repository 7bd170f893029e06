// Qwen2VLForConditionalGeneration / Qwen2_5_VLForConditionalGeneration (transformers 5.23) as the
// reference's model/qwen2_vl.py, qwen25_vl.py and lingshu.py drive them; see the header.
#include "medvlmbench/models/qwen2_vl/model.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/peft_adapter.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::qwen2_vl {
namespace {

const char* flavor_name(Flavor f) {
  switch (f) {
    case Flavor::kQwen2VL:
      return "Qwen2-VL";
    case Flavor::kQwen25VL:
      return "Qwen25-VL";
    case Flavor::kLingshu:
      return "Lingshu";
  }
  return "?";
}

// --min_pixels / --max_pixels (qwen_vl_utils' message keys): an integer, or its decimal string.
int64_t pixel_option(const nlohmann::json& o, const char* key, int64_t fallback) {
  if (!o.is_object() || !o.contains(key) || o[key].is_null()) return fallback;
  const auto& v = o[key];
  int64_t n = -1;
  if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_string()) {
    try {
      size_t used = 0;
      n = std::stoll(v.get<std::string>(), &used);
      if (used != v.get<std::string>().size()) n = -1;
    } catch (const std::exception&) {
      n = -1;
    }
  }
  MVB_USAGE_CHECK(n > 0, "--", key, " must be a positive pixel count, got ", v.dump());
  return n;
}

}  // namespace

std::optional<std::string> checkpoint_to_module(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  auto rest = [&](const char* p) { return n.substr(std::string(p).size()); };
  if (starts("model.visual.")) return "visual." + rest("model.visual.");  // transformers 5
  if (starts("visual.")) return n;                                        // the Hub layout
  if (starts("model.language_model.")) return "lm.model." + rest("model.language_model.");
  if (starts("model.")) return "lm." + n;
  if (starts("lm_head.")) return "lm." + n;
  return std::nullopt;
}

QwenVlModel::QwenVlModel(const ModelSpec& spec, Flavor flavor)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), flavor_(flavor), dir_(spec.model_path), device_(spec.device) {
  MVB_USAGE_CHECK(io::is_directory(dir_), flavor_name(flavor),
                  " needs --model_path pointing at its checkpoint folder; ", dir_, " is not a folder");
  // --model_path ADAPTER --model_base BASE (Lingshu's loader; LLaMA-Factory's adapters): the base, then
  // the adapter merged in (and any non-LoRA tensors the run tuned).
  std::string adapter_dir;
  if (is_peft_adapter_dir(dir_)) {
    MVB_USAGE_CHECK(!spec.model_base.empty(), dir_,
                    " is a LoRA adapter (adapter_config.json); give the model it was "
                    "trained on with --model_base");
    MVB_USAGE_CHECK(io::is_directory(spec.model_base), "--model_base ", spec.model_base, " is not a folder");
    adapter_dir = dir_;
    dir_ = spec.model_base;
  }
  cfg_ = Config::load(dir_);
  const bool want25 = flavor != Flavor::kQwen2VL;
  MVB_USAGE_CHECK((cfg_.variant == Variant::kQwen25VL) == want25, io::join_path(dir_, "config.json"), " is a ",
                  cfg_.model_type, " checkpoint but ", flavor_name(flavor), " runs ",
                  want25 ? "qwen2_5_vl" : "qwen2_vl", " (use --model ", want25 ? "Qwen2-VL" : "Qwen25-VL", ")");
  dtype_ = resolve_dtype(spec);
  options_.check_compat({}, flavor_name(flavor));  // no input quirks of the reference to reproduce here

  image_cfg_ = load_image_config(dir_);
  image_cfg_.fetch_min_pixels = pixel_option(spec.options, "min_pixels", image_cfg_.fetch_min_pixels);
  image_cfg_.fetch_max_pixels = pixel_option(spec.options, "max_pixels", image_cfg_.fetch_max_pixels);
  MVB_USAGE_CHECK(image_cfg_.fetch_min_pixels <= image_cfg_.fetch_max_pixels, "--min_pixels (",
                  image_cfg_.fetch_min_pixels, ") exceeds --max_pixels (", image_cfg_.fetch_max_pixels, ")");
  MVB_CHECK(image_cfg_.patch_size == cfg_.vision.patch_size &&
                image_cfg_.merge_size == cfg_.vision.spatial_merge_size &&
                image_cfg_.temporal_patch_size == cfg_.vision.temporal_patch_size,
            io::join_path(dir_, "preprocessor_config.json"),
            " patch / merge / temporal sizes differ from config.json's vision_config");
  if (flavor == Flavor::kLingshu) {
    // lingshu.py: every image message carries resized_height / resized_width 224.
    image_cfg_.resized_height = 224;
    image_cfg_.resized_width = 224;
    default_max_new_tokens_ = 128;
  }

  nn::DecoderOptions d = nn::decoder_options_from_config(cfg_.text_config, io::join_path(dir_, "config.json"));
  // Qwen2's attention has biases on q/k/v only; the rest is the LLaMA block (Qwen2VLDecoderLayer).
  d.qkv_bias = true;
  d.o_bias = false;
  d.tie_word_embeddings = cfg_.tie_word_embeddings;
  MVB_CHECK(!d.rope.mrope_section.empty(), io::join_path(dir_, "config.json"), ": no mrope_section was read");
  {
    // Parameters are created in the run's dtype: a 7B model never exists in fp32 first.
    nn::DefaultDtypeGuard in_run_dtype(dtype_);
    vision_ = VisionTower(cfg_.vision);
    lm_ = nn::CausalLM(d);
  }

  io::StateDict sd = io::StateDict::open(dir_);
  const nn::TensorMap all = nn::read_weights(sd, checkpoint_to_module);
  nn::TensorMap vis, lm;
  for (const auto& [name, t] : all) (name.rfind("visual.", 0) == 0 ? vis[name.substr(7)] : lm[name.substr(3)]) = t;
  nn::assign_weights(*vision_, vis, sd.source());
  nn::assign_weights(*lm_, lm, sd.source(),
                     cfg_.tie_word_embeddings ? std::vector<std::string>{"lm_head."} : std::vector<std::string>{});
  if (!adapter_dir.empty()) {
    torch::nn::Module both;
    both.register_module("visual", vision_);
    both.register_module("lm", lm_);
    const auto names = [this](const std::string& n) { return peft_module_name(n); };
    load_non_lora_trainables(both, adapter_dir, names);
    merge_peft_adapter(both, adapter_dir, names);
  }
  vision_->to(device_, dtype_);
  lm_->to(device_, dtype_);
  vision_->eval();
  lm_->eval();
  backend_ = std::make_unique<nn::CausalLMBackend>(lm_);
  tokenizer_ = text::load_tokenizer(dir_);
  gen_defaults_ = nn::GenerationConfig::load(dir_);
}

nlohmann::json QwenVlModel::describe() const {
  int64_t params = 0;
  for (const auto& p : vision_->parameters()) params += p.numel();
  for (const auto& p : lm_->parameters()) params += p.numel();
  nlohmann::json d = {
      {"architecture",
       cfg_.variant == Variant::kQwen2VL ? "Qwen2VLForConditionalGeneration" : "Qwen2_5_VLForConditionalGeneration"},
      {"model", flavor_name(flavor_)},
      {"parameters", params},
      {"dtype", std::string(c10::toString(dtype_))},
      {"checkpoint", dir_},
      {"min_pixels", image_cfg_.fetch_min_pixels},
      {"max_pixels", image_cfg_.fetch_max_pixels},
      {"resized", image_cfg_.resized_height > 0 ? nlohmann::json({image_cfg_.resized_height, image_cfg_.resized_width})
                                                : nlohmann::json(nullptr)},
      {"default_max_new_tokens", default_max_new_tokens_}};
  d.update(describe_generation());  // generation (the decoding settings) and reference_compat
  return d;
}

QwenVlModel::Input QwenVlModel::process(const GenerationRequest& request) {
  Input in;
  std::vector<at::Tensor> patches;
  std::vector<int64_t> counts;
  const int64_t m = cfg_.vision.spatial_merge_size;
  for (const ImageRef& ref : request.images) {
    const Pixels p = preprocess_image(decode_image(ref), image_cfg_);
    patches.push_back(p.patches);
    in.grids.push_back(p.grid_thw);
    counts.push_back(image_token_count(p.grid_thw, m));
  }
  // The reference's messages: [{"role": "user", "content": [image..., text]}], plus a system turn when
  // the request has one (agents); the template's default system turn otherwise.
  in.prompt_text = render_prompt(request.prompt, counts, request.system_prompt);
  const auto ids32 = tokenizer_->encode(in.prompt_text, /*add_special_tokens=*/true);
  in.input_ids.assign(ids32.begin(), ids32.end());

  at::Tensor merged;
  if (!patches.empty()) {
    at::NoGradGuard no_grad;
    merged = vision_->forward(at::cat(patches, 0), in.grids);
  }
  // Split the ids at each run of <|image_pad|>: text chunks between, image chunks for the runs.
  std::vector<int64_t> text;
  size_t image = 0;
  int64_t offset = 0;
  const int64_t pad = cfg_.image_token_id;
  for (size_t i = 0; i < in.input_ids.size();) {
    if (in.input_ids[i] != pad) {
      text.push_back(in.input_ids[i++]);
      continue;
    }
    MVB_CHECK(image < counts.size(), "the prompt holds more image placeholders than the request's ", counts.size(),
              " images (does the question contain <|image_pad|>?)");
    const int64_t n = counts[image];
    for (int64_t k = 0; k < n; ++k)
      MVB_CHECK(i + k < in.input_ids.size() && in.input_ids[i + k] == pad,
                "the tokenizer split an image's placeholders; its <|image_pad|> token is not a special token");
    if (!text.empty()) in.chunks.push_back(nn::InputChunk::text(std::move(text)));
    text.clear();
    in.chunks.push_back(nn::InputChunk::image(merged.narrow(0, offset, n), std::vector<int64_t>(n, pad),
                                              image_relative_positions(in.grids[image], m)));
    offset += n;
    ++image;
    i += n;
  }
  MVB_CHECK(image == counts.size(), "the prompt holds ", image, " images but the request has ", counts.size());
  if (!text.empty()) in.chunks.push_back(nn::InputChunk::text(std::move(text)));
  return in;
}

LocalVlm::Prepared QwenVlModel::prepare_one(const GenerationRequest& request) {
  Input in = process(request);
  return Prepared{std::move(in.chunks), std::move(in.prompt_text)};
}

at::Tensor QwenVlModel::forward_logits(const Input& input) {
  at::NoGradGuard no_grad;
  const int64_t L = static_cast<int64_t>(input.input_ids.size());
  const at::Tensor ids = at::tensor(input.input_ids, at::kLong).to(device_).view({1, L});
  // Qwen2VLModel.forward: embed every id, then scatter the image features over the placeholders.
  at::Tensor embeds = lm_->model->embed(ids).clone();
  scatter_image_chunks(embeds[0], input.chunks);
  const at::Tensor pos = rope_index(input.input_ids, cfg_.image_token_id, input.grids, cfg_.vision.spatial_merge_size)
                             .first.to(device_)
                             .view({3, 1, L});
  nn::DecoderInputs in;
  in.inputs_embeds = embeds;
  in.position_ids = pos;
  return lm_->forward(in, nullptr, nn::LogitsFor::kAll)[0].to(at::kFloat);
}

std::optional<std::string> QwenVlModel::peft_module_name(const std::string& n) const {
  // Qwen2VLForConditionalGeneration / Qwen2_5_VLForConditionalGeneration as transformers >= 4.52 build them.
  if (n.rfind("lm.model.", 0) == 0) return "model.language_model." + n.substr(9);
  if (n.rfind("lm.lm_head", 0) == 0) return n.substr(3);
  if (n.rfind("visual.", 0) == 0) return "model." + n;
  return std::nullopt;
}

nn::GenerationConfig QwenVlModel::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  // The reference calls generate(**inputs, max_new_tokens=512) (Lingshu 128) and nothing else, so the
  // checkpoint's sampling settings stay in force.
  g.max_new_tokens = resolve_max_new_tokens(request, default_max_new_tokens_);
  if (request.temperature) {
    if (*request.temperature <= 0) {
      g.do_sample = false;
    } else {
      g.temperature = *request.temperature;
    }
  }
  return g;
}

namespace {

std::unique_ptr<Model> make(const ModelSpec& spec, Flavor f) { return std::make_unique<QwenVlModel>(spec, f); }

}  // namespace
}  // namespace mvb::qwen2_vl

namespace mvb {

MVB_REGISTER(model_registry(), "Qwen2-VL",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "Qwen2-VL (HF Qwen2VLForConditionalGeneration checkpoint, e.g. Qwen/Qwen2-VL-7B-Instruct)",
                        true,
                        [](const ModelSpec& s) { return qwen2_vl::make(s, qwen2_vl::Flavor::kQwen2VL); },
                        "Qwen/Qwen2-VL-7B-Instruct"});
MVB_REGISTER(model_registry(), "Qwen25-VL",
             ModelEntry{
                 "generative",
                 {"vqa", "caption"},
                 "Qwen2.5-VL (HF Qwen2_5_VLForConditionalGeneration checkpoint, e.g. Qwen/Qwen2.5-VL-7B-Instruct)",
                 true,
                 [](const ModelSpec& s) { return qwen2_vl::make(s, qwen2_vl::Flavor::kQwen25VL); },
                 "Qwen/Qwen2.5-VL-7B-Instruct"});
MVB_REGISTER(model_registry(), "Lingshu",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "Lingshu (Qwen2.5-VL fine-tune, e.g. lingshu-medical-mllm/Lingshu-7B): 224 x 224 images, "
                        "128 new tokens",
                        true,
                        [](const ModelSpec& s) { return qwen2_vl::make(s, qwen2_vl::Flavor::kLingshu); },
                        "lingshu-medical-mllm/Lingshu-7B"});

}  // namespace mvb
