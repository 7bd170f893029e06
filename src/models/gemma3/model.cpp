// Gemma3ForConditionalGeneration (transformers 5.23, eager attention) as the reference's model/gemma3.py and
// model/medgemma.py drive it; see the header.
#include "medvlmbench/models/gemma3/model.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::gemma3 {
namespace {

const char* flavor_name(Flavor f) { return f == Flavor::kGemma3 ? "Gemma3" : "MedGemma"; }

constexpr const char* kMedGemmaSystem = "You are an expert on understanding medical images.";
// model/medgemma.py's default_max_new_tokens: the generation length and the budget reserved for it.
constexpr int kMedGemmaNewTokens = 512;

// The module tree the checkpoint names map onto.
struct NetImpl : torch::nn::Module {
  NetImpl(const nn::VisionTransformer& v, const Projector& p, const nn::CausalLM& l) {
    vision = register_module("vision", v);
    proj = register_module("proj", p);
    lm = register_module("lm", l);
  }
  nn::VisionTransformer vision{nullptr};
  Projector proj{nullptr};
  nn::CausalLM lm{nullptr};
};
TORCH_MODULE(Net);

}  // namespace

std::optional<std::string> checkpoint_to_module(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  auto rest = [&](const char* p) { return n.substr(std::string(p).size()); };
  for (const char* p :
       {"model.vision_tower.vision_model.", "vision_tower.vision_model.", "model.vision_tower.", "vision_tower."})
    if (starts(p)) return "vision." + rest(p);
  for (const char* p : {"model.multi_modal_projector.", "multi_modal_projector."})
    if (starts(p)) return "proj." + rest(p);
  for (const char* p : {"model.language_model.model.", "model.language_model.", "language_model.model."})
    if (starts(p)) return "lm.model." + rest(p);
  if (starts("lm_head.") || starts("language_model.lm_head.")) return std::nullopt;  // tied to embed_tokens
  if (n.find("position_ids") != std::string::npos) return std::nullopt;
  return "unknown." + n;  // reported as unexpected by assign_weights
}

ProjectorImpl::ProjectorImpl(const Config& c) : cfg(c) {
  mm_input_projection_weight =
      register_parameter("mm_input_projection_weight", at::zeros({c.vision.hidden_size, c.text.hidden_size}));
  mm_soft_emb_norm =
      register_module("mm_soft_emb_norm", nn::RMSNorm(c.vision.hidden_size, c.vision.layer_norm_eps, 1.0));
}

at::Tensor ProjectorImpl::forward(const at::Tensor& x) {
  const int64_t n = x.size(0), d = x.size(2), p = cfg.patches_per_side(), k = cfg.pool_kernel();
  MVB_CHECK(x.size(1) == p * p, "Gemma3 projector expects ", p * p, " patches, got ", x.size(1));
  at::Tensor grid = x.transpose(1, 2).reshape({n, d, p, p}).contiguous();
  at::Tensor pooled = at::avg_pool2d(grid, {k, k}, {k, k}).flatten(2).transpose(1, 2);
  at::Tensor normed = mm_soft_emb_norm->forward(pooled);
  return at::matmul(normed, mm_input_projection_weight).to(x.scalar_type());
}

Gemma3Model::Gemma3Model(const ModelSpec& spec, Flavor flavor)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), flavor_(flavor), dir_(spec.model_path), device_(spec.device) {
  MVB_USAGE_CHECK(io::is_directory(dir_), flavor_name(flavor),
                  " needs --model_path pointing at its checkpoint folder; ", dir_, " is not a folder");
  cfg_ = Config::load(dir_);
  dtype_ = resolve_dtype(spec);
  options_.check_compat({}, flavor_name(flavor));  // the reference's Gemma3 / MedGemma inputs have no quirk to opt into
  image_cfg_ = load_image_config(dir_);
  const std::string pre = io::join_path(dir_, "preprocessor_config.json");
  MVB_CHECK(image_cfg_.height == cfg_.vision.image_size && image_cfg_.width == cfg_.vision.image_size, pre, ": size ",
            image_cfg_.height, " x ", image_cfg_.width, " differs from config.json's vision image_size ",
            cfg_.vision.image_size);
  MVB_CHECK(image_cfg_.image_seq_length == cfg_.mm_tokens_per_image, pre, ": image_seq_length ",
            image_cfg_.image_seq_length, " differs from config.json's mm_tokens_per_image ", cfg_.mm_tokens_per_image);

  {
    nn::DefaultDtypeGuard in_run_dtype(dtype_);  // parameters are created in the run's dtype
    vision_ = nn::VisionTransformer(cfg_.vision.tower());
    proj_ = Projector(cfg_);
    lm_ = nn::CausalLM(cfg_.text);
  }
  Net net(vision_, proj_, lm_);
  io::StateDict sd = io::StateDict::open(dir_);
  nn::assign_weights(*net, nn::read_weights(sd, checkpoint_to_module), sd.source());
  net->to(device_, dtype_);
  net->eval();
  backend_ = std::make_unique<nn::CausalLMBackend>(lm_);
  tokenizer_ = text::load_tokenizer(dir_);
  gen_defaults_ = nn::GenerationConfig::load(dir_);
  for (const auto& [tok, id] : {std::pair<const char*, int64_t>{"<start_of_image>", cfg_.boi_token_id},
                                {"<end_of_image>", cfg_.eoi_token_id},
                                {"<image_soft_token>", cfg_.image_token_id}}) {
    const auto got = tokenizer_->token_to_id(tok);
    MVB_CHECK(got && *got == id, io::join_path(dir_, "tokenizer.json"), ": ", tok, " is ",
              got ? std::to_string(*got) : std::string("missing"), " but config.json says ", id);
  }
}

nlohmann::json Gemma3Model::describe() const {
  int64_t params = 0;
  for (const auto& p : vision_->parameters()) params += p.numel();
  for (const auto& p : proj_->parameters()) params += p.numel();
  for (const auto& p : lm_->parameters()) params += p.numel();
  nlohmann::json d = {{"architecture", "Gemma3ForConditionalGeneration"},
                      {"model", flavor_name(flavor_)},
                      {"parameters", params},
                      {"dtype", std::string(c10::toString(dtype_))},
                      {"checkpoint", dir_},
                      {"image_size", {image_cfg_.height, image_cfg_.width}},
                      {"image_tokens", cfg_.mm_tokens_per_image},
                      {"sliding_window", cfg_.text.sliding_window},
                      {"default_max_new_tokens", flavor_ == Flavor::kMedGemma ? kMedGemmaNewTokens : 200}};
  if (flavor_ == Flavor::kMedGemma) {
    d["system_prompt"] = kMedGemmaSystem;
    d["multi_image"] = "one 896 x 896 panel";
    d["prompt_budget"] =
        cfg_.text.sliding_window > 0
            ? nlohmann::json(
                  {{"fit_prompt_to", std::max(1, static_cast<int>(cfg_.text.sliding_window) - kMedGemmaNewTokens)},
                   {"max_new_tokens", "min(512, sliding_window - prompt tokens)"}})
            : nlohmann::json(nullptr);
  }
  d.update(describe_generation());
  return d;
}

std::vector<int64_t> Gemma3Model::encode(const std::string& rendered) const {
  // The processor tokenizes the expanded template text with add_special_tokens=False (<bos> is in the text).
  const auto ids =
      tokenizer_->encode(expand_image_tokens(rendered, cfg_.mm_tokens_per_image), /*add_special_tokens=*/false);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string Gemma3Model::system_of(const GenerationRequest& r) const {
  if (!r.system_prompt.empty()) return r.system_prompt;
  return flavor_ == Flavor::kMedGemma ? kMedGemmaSystem : "";
}

Gemma3Model::Text Gemma3Model::text_of(const GenerationRequest& r) const {
  Text t;
  t.question = r.prompt;
  t.n_images = static_cast<int>(r.images.size());
  if (flavor_ == Flavor::kMedGemma && t.n_images > 1) t.n_images = 1;  // the panel
  const std::string system = system_of(r);
  t.rendered = render_prompt(t.question, t.n_images, system);
  t.input_ids = encode(t.rendered);
  const int64_t sw = cfg_.text.sliding_window;
  if (flavor_ != Flavor::kMedGemma || sw <= 0) return t;
  // model/medgemma.py: fit the prompt into sliding_window - 512 tokens, else into sliding_window.
  auto fit = [&](int64_t target) -> bool {
    int64_t low = 1, high = static_cast<int64_t>(code_point_count(r.prompt));
    bool found = false;
    Text best;
    while (low <= high) {
      const int64_t mid = (low + high) / 2;
      Text cand = t;
      cand.question = truncate_text_middle(r.prompt, static_cast<size_t>(mid));
      cand.rendered = render_prompt(cand.question, t.n_images, system);
      cand.input_ids = encode(cand.rendered);
      if (static_cast<int64_t>(cand.input_ids.size()) <= target) {
        best = std::move(cand);
        found = true;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (found) t = std::move(best);
    return found;
  };
  const int64_t target = std::max<int64_t>(1, sw - kMedGemmaNewTokens);
  if (static_cast<int64_t>(t.input_ids.size()) > target && !fit(target))
    MVB_CHECK(fit(sw), "MedGemma prompt could not be truncated to fit the Gemma sliding-window budget: original_chars=",
              code_point_count(r.prompt), ", sliding_window=", sw);
  return t;
}

at::Tensor Gemma3Model::image_features(const at::Tensor& pixel_values) {
  at::NoGradGuard no_grad;
  at::Tensor x = vision_->forward(pixel_values.to(device_, dtype_)).last_hidden_state;
  // SiglipVisionTransformer applies post_layernorm to every token; our tower does so itself only with a head.
  if (!vision_->opts.attention_pool && vision_->opts.final_norm) x = vision_->post_layernorm->forward(x);
  return proj_->forward(x);
}

nn::MultimodalInput Gemma3Model::chunks_of(const Text& text, const at::Tensor& features) const {
  // Split input_ids at each run of <image_soft_token>: text chunks between, one image chunk (its own
  // bidirectional group, as token_type_ids make it) per run.
  nn::MultimodalInput chunks;
  std::vector<int64_t> pending;
  const int64_t n = cfg_.mm_tokens_per_image, pad = cfg_.image_token_id;
  int64_t image = 0;
  const auto& ids = text.input_ids;
  for (size_t i = 0; i < ids.size();) {
    if (ids[i] != pad) {
      pending.push_back(ids[i++]);
      continue;
    }
    MVB_CHECK(image < text.n_images, "the prompt holds more images than the request's ", text.n_images,
              " (does the question contain <start_of_image>?)");
    for (int64_t k = 0; k < n; ++k)
      MVB_CHECK(i + k < ids.size() && ids[i + k] == pad,
                "the tokenizer split an image's soft tokens; <image_soft_token> is not a special token");
    if (!pending.empty()) chunks.push_back(nn::InputChunk::text(std::move(pending)));
    pending.clear();
    nn::InputChunk c = nn::InputChunk::image(features[image], std::vector<int64_t>(n, pad));
    c.bidirectional_group = image + 1;
    chunks.push_back(std::move(c));
    ++image;
    i += n;
  }
  MVB_CHECK(image == text.n_images, "the prompt holds ", image, " images but the request has ", text.n_images,
            " (does the question contain <start_of_image>?)");
  if (!pending.empty()) chunks.push_back(nn::InputChunk::text(std::move(pending)));
  return chunks;
}

Gemma3Model::Input Gemma3Model::process(const GenerationRequest& request) {
  Input in;
  in.text = text_of(request);
  std::vector<RgbImage> images;
  for (const ImageRef& ref : request.images) images.push_back(decode_image(ref));
  if (flavor_ == Flavor::kMedGemma && images.size() > 1) images = {compose_panel(images)};
  std::vector<at::Tensor> px;
  for (const auto& im : images) px.push_back(preprocess_image(im, image_cfg_));
  at::Tensor features;
  if (!px.empty()) {
    in.pixel_values = at::stack(px, 0);
    features = image_features(in.pixel_values);
  }
  in.chunks = chunks_of(in.text, features);
  return in;
}

std::vector<LocalVlm::Prepared> Gemma3Model::prepare(const std::vector<const GenerationRequest*>& requests) {
  // Text per request; the images of the whole batch go through the vision tower together.
  std::vector<Text> texts;
  std::vector<at::Tensor> px;
  for (const GenerationRequest* r : requests) {
    texts.push_back(text_of(*r));
    std::vector<RgbImage> images;
    for (const ImageRef& ref : r->images) images.push_back(decode_image(ref));
    if (flavor_ == Flavor::kMedGemma && images.size() > 1) images = {compose_panel(images)};
    for (const auto& im : images) px.push_back(preprocess_image(im, image_cfg_));
  }
  at::Tensor features = px.empty() ? at::Tensor() : image_features(at::stack(px, 0));
  std::vector<Prepared> out;
  int64_t offset = 0;
  for (const Text& t : texts) {
    at::Tensor f = t.n_images > 0 ? features.narrow(0, offset, t.n_images) : at::Tensor();
    offset += t.n_images;
    out.push_back(Prepared{chunks_of(t, f), t.rendered});
  }
  return out;
}

at::Tensor Gemma3Model::forward_logits(const Input& input) {
  at::NoGradGuard no_grad;
  const int64_t L = static_cast<int64_t>(input.text.input_ids.size());
  const at::Tensor ids = at::tensor(input.text.input_ids, at::kLong).to(device_).view({1, L});
  // Gemma3Model.forward: embed every id (times sqrt(hidden)), then scatter the image features over the soft tokens.
  at::Tensor embeds = lm_->model->embed(ids).clone();
  const at::Tensor groups = scatter_image_chunks(embeds[0], input.chunks);
  nn::DecoderInputs in;
  in.inputs_embeds = embeds;
  in.bidirectional_groups = groups.view({1, L}).to(device_);
  return lm_->forward(in, nullptr, nn::LogitsFor::kAll)[0].to(at::kFloat);
}

nn::GenerationConfig Gemma3Model::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  // Both wrappers call generate(max_new_tokens=..., do_sample=False) without a temperature, and
  // do_sample=temperature > 0 with it (the checkpoint's top_k 64 / top_p 0.95 then apply). Gemma3 generates 200
  // tokens, 512 under a temperature; MedGemma 512 always.
  const bool med = flavor_ == Flavor::kMedGemma;
  int64_t max_new = resolve_max_new_tokens(request, med ? kMedGemmaNewTokens : (request.temperature ? 512 : 200));
  g.do_sample = request.temperature && *request.temperature > 0;
  if (g.do_sample) g.temperature = *request.temperature;
  const int64_t sw = cfg_.text.sliding_window;
  if (med && sw > 0) {
    // _resolve_max_new_tokens: what is left of the sliding window after the (fitted) prompt.
    const int64_t input_len = static_cast<int64_t>(text_of(request).input_ids.size());
    const int64_t available = sw - input_len;
    MVB_CHECK(available > 0, "MedGemma prompt exhausted the Gemma sliding-window budget: input_len=", input_len,
              ", sliding_window=", sw);
    max_new = std::min(max_new, available);
  }
  g.max_new_tokens = max_new;
  return g;
}

namespace {
std::unique_ptr<Model> make(const ModelSpec& spec, Flavor f) { return std::make_unique<Gemma3Model>(spec, f); }
}  // namespace
}  // namespace mvb::gemma3

namespace mvb {

MVB_REGISTER(model_registry(), "Gemma3",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "Gemma 3 (HF Gemma3ForConditionalGeneration checkpoint, e.g. google/gemma-3-4b-it): greedy, "
                        "200 new tokens",
                        true,
                        [](const ModelSpec& s) { return gemma3::make(s, gemma3::Flavor::kGemma3); },
                        "google/gemma-3-4b-it"});
MVB_REGISTER(model_registry(), "MedGemma",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "MedGemma (Gemma3ForConditionalGeneration checkpoint, e.g. google/medgemma-4b-it): its "
                        "system prompt, several images as one panel, 512 new tokens within the sliding-window budget",
                        true,
                        [](const ModelSpec& s) { return gemma3::make(s, gemma3::Flavor::kMedGemma); },
                        "google/medgemma-4b-it"});

}  // namespace mvb
