// LLaVA-1.5 and LLaVA-Med v1.5 as local generative models: CLIP tower (hidden_states[-2] without the
// class token) -> mlp2x_gelu projector -> the image's embeddings spliced where "<image>" stood ->
// LLaMA / Mistral decoder driven by the shared generation engine (LocalVlm).
#include <ATen/ATen.h>
#include <c10/util/irange.h>
#include <torch/nn/module.h>

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/llava/llava.h"
#include "medvlmbench/models/llava/llava_model.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/models/peft_adapter.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::llava {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Checkpoint name -> our module name (the HF LlavaForConditionalGeneration tree, see llava_model.h).
// Prefix remaps only: the layer names below the prefixes are the checkpoints' own.
std::optional<std::string> vision_name(const std::string& rest) {
  if (ends_with(rest, "position_ids")) return std::nullopt;  // buffers persisted by old transformers
  return "vision_tower." + rest;
}

std::optional<std::string> rename_hf(const std::string& n) {
  if (ends_with(n, "rotary_emb.inv_freq")) return std::nullopt;
  for (const char* p :
       {"model.vision_tower.vision_model.", "vision_tower.vision_model.", "model.vision_tower.", "vision_tower."})
    if (starts_with(n, p)) return vision_name(n.substr(std::string(p).size()));
  for (const char* p : {"model.multi_modal_projector.", "multi_modal_projector."})
    if (starts_with(n, p)) return "multi_modal_projector." + n.substr(std::string(p).size());
  // transformers < 4.52 / the published llava-hf: language_model.{model,lm_head}.*; 4.52+ in memory:
  // model.language_model.* and lm_head.*.
  if (starts_with(n, "language_model.")) return n;
  if (starts_with(n, "model.language_model.")) return "language_model.model." + n.substr(21);
  if (starts_with(n, "lm_head.")) return "language_model." + n;
  return n;  // unknown: assign_weights reports it
}

std::optional<std::string> rename_original(const std::string& n) {
  if (ends_with(n, "rotary_emb.inv_freq")) return std::nullopt;
  // The reference builds the tower with delay_load and loads it from mm_vision_tower, so tower
  // weights inside the checkpoint (model.vision_tower.vision_tower.*) are never used.
  if (starts_with(n, "model.vision_tower.")) return std::nullopt;
  if (starts_with(n, "model.mm_projector.0.")) return "multi_modal_projector.linear_1." + n.substr(21);
  if (starts_with(n, "model.mm_projector.2.")) return "multi_modal_projector.linear_2." + n.substr(21);
  if (starts_with(n, "model.") || starts_with(n, "lm_head.")) return "language_model." + n;
  return n;
}

// The CLIP folder mm_vision_tower names: only its vision_model.* tensors (a whole CLIPModel also holds
// the text tower, projections and logit_scale). transformers 5 saves a CLIPVisionModel without the
// "vision_model." level, so bare tower names are taken too.
std::optional<std::string> rename_tower(const std::string& n) {
  if (starts_with(n, "vision_model.")) return vision_name(n.substr(13));
  for (const char* p : {"embeddings.", "pre_layrnorm.", "encoder.", "post_layernorm."})
    if (starts_with(n, p)) return vision_name(n);
  return std::nullopt;
}

}  // namespace

ProjectorImpl::ProjectorImpl(int64_t vision_dim, int64_t text_dim, nn::Activation act) : act(act) {
  linear_1 = register_module("linear_1", nn::Linear(vision_dim, text_dim, /*bias=*/true));
  linear_2 = register_module("linear_2", nn::Linear(text_dim, text_dim, /*bias=*/true));
}

at::Tensor ProjectorImpl::forward(const at::Tensor& x) {
  return linear_2->forward(nn::activate(linear_1->forward(x), act));
}

LlavaNetImpl::LlavaNetImpl(const LlavaConfig& c) : cfg(c) {
  vision_tower = register_module("vision_tower", nn::VisionTransformer(c.vision));
  multi_modal_projector =
      register_module("multi_modal_projector", Projector(c.vision.layer.dim, c.text.hidden_size, c.projector_act));
  language_model = register_module("language_model", nn::CausalLM(c.text));
}

at::Tensor LlavaNetImpl::image_features(const at::Tensor& pixel_values) {
  at::Tensor h = vision_tower->hidden_state(pixel_values, cfg.vision_select_layer);
  if (cfg.drop_cls) h = h.slice(1, 1);
  return multi_modal_projector->forward(h);
}

// ---------------------------------------------------------------- the model
// The quirks each model reproduces on request (GENERATIVE.md 3.1, 1.2); any other name is a typo.
std::vector<std::string> LlavaModel::known_quirks() const {
  std::vector<std::string> known = {"llava_double_preprocess"};
  if (variant_ == Variant::kLlavaMed) known.push_back("llava_med_global_rng");
  return known;
}

LlavaModel::LlavaModel(const ModelSpec& spec, Variant variant)
    : LocalVlm(LocalVlmOptions::from_spec(spec)),
      variant_(variant),
      dir_(resolve_checkpoint_dir(spec)),
      device_(spec.device),
      dtype_(resolve_dtype(spec)),
      global_rng_(static_cast<uint64_t>(spec.seed < 0 ? -static_cast<int64_t>(spec.seed) : spec.seed)) {
  // --model_path ADAPTER --model_base BASE (the reference's LoRA loader): the base's config, weights
  // and tokenizer, then the adapter's non_lora_trainables and merged LoRA weights.
  if (is_peft_adapter_dir(dir_)) {
    MVB_USAGE_CHECK(!spec.model_base.empty(), dir_,
                    " is a LoRA adapter (adapter_config.json); give the model it was "
                    "trained on with --model_base");
    MVB_USAGE_CHECK(io::is_directory(spec.model_base), "--model_base ", spec.model_base, " is not a folder");
    adapter_dir_ = dir_;
    dir_ = spec.model_base;
  }
  cfg_ = load_config(dir_);
  // The quirks each model reproduces on request (GENERATIVE.md 3.1, 1.2); any other name is a typo.
  options_.check_compat(known_quirks(), spec.name);
  double_preprocess_ = options_.compat("llava_double_preprocess");
  global_stream_ = variant_ == Variant::kLlavaMed && options_.compat("llava_med_global_rng");
  {
    // Parameters are created in the run's dtype: a 7B model never exists in fp32 first.
    nn::DefaultDtypeGuard in_run_dtype(dtype_);
    net_ = LlavaNet(cfg_);
  }
  io::StateDict sd = io::StateDict::open(dir_);
  nn::TensorMap tensors = nn::read_weights(sd, cfg_.layout == Layout::kHf ? rename_hf : rename_original);
  source_ = sd.source();
  if (cfg_.layout == Layout::kOriginal) {
    io::StateDict tower = io::StateDict::open(cfg_.vision_tower_dir);
    for (auto& [k, v] : nn::read_weights(tower, rename_tower)) tensors[k] = v;
    source_ += " + " + tower.source();
  }
  nn::assign_weights(*net_, tensors, source_);
  tensors.clear();
  if (!adapter_dir_.empty()) {
    const auto names = [this](const std::string& n) { return peft_module_name(n); };
    const int extra = load_non_lora_trainables(*net_, adapter_dir_, names);
    const int merged = merge_peft_adapter(*net_, adapter_dir_, names);
    source_ += " + LoRA " + adapter_dir_ + " (" + std::to_string(merged) + " modules merged, " + std::to_string(extra) +
               " non-LoRA tensors)";
  }
  net_->to(device_, dtype_);
  net_->eval();
  backend_ = std::make_unique<nn::CausalLMBackend>(net_->language_model);
  // The reference: LLaVA-1.5's builder asks for use_fast=False (slow SentencePiece); LLaVA-Med's
  // AutoTokenizer takes the fast one.
  tokenizer_ =
      text::load_tokenizer(dir_, variant_ == Variant::kLlava15 ? text::Preference::kSlow : text::Preference::kFast);
  const auto& eos = tokenizer_->special_tokens().eos;
  MVB_CHECK(eos.present(), dir_, ": the tokenizer has no eos token (</s>), which ends LLaVA's answers");
  eos_id_ = eos.id;
}

std::string LlavaModel::architecture() const {
  return std::string(variant_ == Variant::kLlava15 ? "LLaVA-1.5" : "LLaVA-Med v1.5") + " (" +
         (cfg_.mistral ? "Mistral" : "LLaMA") + " " + std::to_string(cfg_.text.num_layers) + "L/" +
         std::to_string(cfg_.text.hidden_size) + ", CLIP ViT-" + std::to_string(cfg_.vision.patch_size) + " " +
         std::to_string(cfg_.vision.image_size) + "px, " +
         (cfg_.layout == Layout::kHf ? "llava-hf layout" : "original layout") + ")";
}

nlohmann::json LlavaModel::describe() const {
  int64_t params = 0;
  for (const auto& p : net_->parameters()) params += p.numel();
  nlohmann::json d = {{"architecture", architecture()},
                      {"parameters", params},
                      {"dtype", std::string(c10::toString(dtype_))},
                      {"checkpoint", dir_},
                      {"weights", source_},
                      {"tokenizer", tokenizer_->kind()},
                      {"conversation", variant_ == Variant::kLlava15 ? "vicuna_v1" : "mistral_instruct"}};
  if (cfg_.layout == Layout::kOriginal) d["vision_tower"] = cfg_.vision_tower_dir;
  d.update(describe_generation(known_quirks()));
  // Which of the reference's behaviours ran (GENERATIVE.md 3.1 and 1.2).
  d["preprocessing"] = double_preprocess_ ? "reference double preprocessing (reference_compat llava_double_preprocess)"
                                          : "single pass (pad to square, CLIP)";
  if (variant_ == Variant::kLlavaMed)
    d["padding_offset"] = global_stream_
                              ? "Python random stream seeded once with --seed, drawn in sample order "
                                "(reference_compat llava_med_global_rng)"
                              : "random.randint(c, c + 1) from Python's MT19937 seeded with each request's seed";
  return d;
}

std::vector<LocalVlm::Prepared> LlavaModel::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<Prepared> out;
  out.reserve(requests.size());
  std::vector<at::Tensor> pixels;
  std::vector<size_t> with_image;
  std::vector<std::vector<int64_t>> ids;
  // LocalVlm::generate redoes a failed batch request by request: the global stream (reference_compat
  // llava_med_global_rng) goes back to where this batch started so each image draws once, in order.
  const PythonRandom rng_at_start = global_rng_;
  try {
    for (size_t r = 0; r < requests.size(); ++r) {
      const GenerationRequest& req = *requests[r];
      MVB_CHECK(req.images.size() <= 1, "LLaVA takes one image per prompt; this request has ", req.images.size(),
                " (the reference asserts on multi-image samples too)");
      const bool has_image = !req.images.empty();
      Prepared p;
      p.prompt_text = render_prompt(conversation(), req.prompt, has_image, cfg_.im_start_end);
      ids.push_back(tokenize_with_image(*tokenizer_, p.prompt_text));
      if (has_image) {
        const RgbImage img = decode_image(req.images[0]);
        PythonRandom local(req.seed);
        PythonRandom* rng = variant_ == Variant::kLlavaMed ? (global_stream_ ? &global_rng_ : &local) : nullptr;
        pixels.push_back(double_preprocess_ ? process_image_twice(img, cfg_, rng) : process_image(img, cfg_, rng));
        with_image.push_back(r);
      }
      out.push_back(std::move(p));
    }
  } catch (...) {
    global_rng_ = rng_at_start;
    throw;
  }
  at::Tensor features;
  if (!pixels.empty()) {
    c10::InferenceMode guard;
    features = net_->image_features(at::stack(pixels).to(device_, dtype_));  // [N, P, hidden]
  }
  size_t next_image = 0;
  for (size_t r = 0; r < requests.size(); ++r) {
    nn::MultimodalInput input;
    std::vector<int64_t> text;
    int64_t length = 0;
    auto flush = [&] {
      if (!text.empty()) input.push_back(nn::InputChunk::text(std::move(text)));
      text.clear();
    };
    for (int64_t id : ids[r]) {
      if (id == -200) {
        flush();
        input.push_back(nn::InputChunk::image(features[static_cast<int64_t>(next_image)]));
        length += features.size(1);
      } else {
        text.push_back(id);
        ++length;
      }
    }
    flush();
    if (!with_image.empty() && std::count(ids[r].begin(), ids[r].end(), -200) > 0) ++next_image;
    // prepare_inputs_labels_for_multimodal cuts the embeddings at tokenizer_model_max_length.
    if (cfg_.max_length > 0 && length > cfg_.max_length) input = truncate(std::move(input), cfg_.max_length);
    out[r].input = std::move(input);
  }
  return out;
}

nn::MultimodalInput LlavaModel::truncate(nn::MultimodalInput in, int64_t max_len) {
  nn::MultimodalInput out;
  int64_t left = max_len;
  for (auto& chunk : in) {
    if (left <= 0) break;
    const int64_t n = chunk.embeds.defined() ? chunk.embeds.size(0) : static_cast<int64_t>(chunk.token_ids.size());
    if (n > left) {
      if (chunk.embeds.defined())
        chunk.embeds = chunk.embeds.slice(0, 0, left);
      else
        chunk.token_ids.resize(static_cast<size_t>(left));
    }
    left -= std::min(n, left);
    out.push_back(std::move(chunk));
  }
  return out;
}

std::optional<std::string> LlavaModel::peft_module_name(const std::string& n) const {
  auto rest = [&](const std::string& p) { return n.substr(p.size()); };
  if (cfg_.layout == Layout::kOriginal) {
    // LlavaLlamaForCausalLM: model.layers.*, lm_head, model.mm_projector.{0,2},
    // model.vision_tower.vision_tower.vision_model.* (CLIPVisionTower wraps CLIPVisionModel).
    if (starts_with(n, "language_model.")) return rest("language_model.");
    if (starts_with(n, "vision_tower.")) return "model.vision_tower.vision_tower.vision_model." + rest("vision_tower.");
    if (starts_with(n, "multi_modal_projector.linear_1"))
      return "model.mm_projector.0" + rest("multi_modal_projector.linear_1");
    if (starts_with(n, "multi_modal_projector.linear_2"))
      return "model.mm_projector.2" + rest("multi_modal_projector.linear_2");
    return std::nullopt;
  }
  // LlavaForConditionalGeneration as transformers 5.x builds it in memory (4.52-4.57 name the tower
  // model.vision_tower.vision_model.*, a CLIPVisionModel; 5.x builds the CLIPVisionTransformer bare).
  if (starts_with(n, "language_model.model.")) return "model.language_model." + rest("language_model.model.");
  if (starts_with(n, "language_model.lm_head")) return rest("language_model.");
  if (starts_with(n, "vision_tower.")) return "model." + n;
  if (starts_with(n, "multi_modal_projector.")) return "model." + n;
  return std::nullopt;
}

nn::GenerationConfig LlavaModel::generation_config(const GenerationRequest& request) const {
  // llava.py / llava_med.py: generate(do_sample=False, temperature=0, num_beams=1, top_p=None,
  // max_new_tokens=1024, use_cache=True): greedy, stopped by </s>.
  nn::GenerationConfig g;
  g.max_new_tokens = resolve_max_new_tokens(request, 1024);
  g.do_sample = false;
  if (request.temperature && *request.temperature > 0) {
    g.do_sample = true;
    g.temperature = *request.temperature;
  }
  g.eos_token_ids = {eos_id_};
  g.pad_token_id = cfg_.text.pad_token_id >= 0 ? cfg_.text.pad_token_id : 0;
  g.bos_token_id = tokenizer_->special_tokens().bos.id;
  return g;
}

namespace {

std::unique_ptr<Model> make_llava15(const ModelSpec& spec) {
  return std::make_unique<LlavaModel>(spec, LlavaModel::Variant::kLlava15);
}
std::unique_ptr<Model> make_llava_med(const ModelSpec& spec) {
  return std::make_unique<LlavaModel>(spec, LlavaModel::Variant::kLlavaMed);
}

}  // namespace

MVB_REGISTER(model_registry(), "LLaVA-1.5",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "LLaVA-1.5 (liuhaotian/llava-v1.5-7b original layout, or llava-hf/llava-1.5-7b-hf)",
                        /*needs_checkpoint=*/true,
                        make_llava15,
                        "liuhaotian/llava-v1.5-7b"});
MVB_REGISTER(model_registry(), "LLaVA-Med",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "LLaVA-Med v1.5 Mistral (microsoft/llava-med-v1.5-mistral-7b)",
                        /*needs_checkpoint=*/true,
                        make_llava_med,
                        "microsoft/llava-med-v1.5-mistral-7b"});

}  // namespace mvb::llava
