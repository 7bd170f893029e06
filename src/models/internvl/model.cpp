// InternVLForConditionalGeneration (transformers 5.23; the processor also as 4.53.1 runs it) as the
// reference's model/internvl.py drives it; see the header.
#include "medvlmbench/models/internvl/model.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::internvl {
namespace {

bool starts(const std::string& n, const char* p) { return n.rfind(p, 0) == 0; }

// InternVLProcessor's image_seq_length: processor_config.json when the folder has one (what the
// processor reads), else config.json's.
int64_t read_image_seq_length(const std::string& dir, int64_t fallback) {
  const std::string file = io::join_path(dir, "processor_config.json");
  if (!io::exists(file)) return fallback;
  return nn::hf::get_int(io::read_json(file), "image_seq_length", 256, file);
}

// The chat template the folder ships must be the -hf one this port renders (an image is
// "<IMG_CONTEXT>\n", ChatML turns); another template would give the model a different prompt.
void check_chat_template(const text::Tokenizer& tok, const std::string& dir) {
  const std::string& t = tok.config().chat_template;
  if (t.empty()) return;  // the processor then has none either; the reference's apply_chat_template would fail
  MVB_CHECK(t.find("<IMG_CONTEXT>") != std::string::npos && t.find("<|im_start|>") != std::string::npos &&
                t.find("add_generation_prompt") != std::string::npos,
            dir,
            ": the chat template is not the InternVL -hf one (ChatML with \"<IMG_CONTEXT>\\n\" per image); this "
            "port renders only that template");
}

}  // namespace

std::optional<std::string> checkpoint_to_module(const std::string& n) {
  auto rest = [&](const char* p) { return n.substr(std::string(p).size()); };
  for (const char* p : {"model.vision_tower.", "vision_tower."})
    if (starts(n, p)) return "v.vision_tower." + rest(p);
  for (const char* p : {"model.multi_modal_projector.", "multi_modal_projector."})
    if (starts(n, p)) return "v.multi_modal_projector." + rest(p);
  if (starts(n, "model.language_model.")) return "lm.model." + rest("model.language_model.");
  if (starts(n, "language_model.model.")) return "lm.model." + rest("language_model.model.");
  if (starts(n, "language_model.lm_head.")) return "lm.lm_head." + rest("language_model.lm_head.");
  if (starts(n, "lm_head.")) return "lm." + n;
  return std::nullopt;
}

InternVLModel::InternVLModel(const ModelSpec& spec)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), dir_(resolve_checkpoint_dir(spec)), device_(spec.device) {
  MVB_USAGE_CHECK(io::is_directory(dir_),
                  "InternVL3 needs --model_path pointing at its -hf checkpoint folder (e.g. "
                  "OpenGVLab/InternVL3-8B-hf); ",
                  dir_, " is not a folder");
  cfg_ = Config::load(dir_);
  dtype_ = resolve_dtype(spec);
  options_.check_compat({}, "InternVL3");  // no input quirks of the reference to reproduce here

  image_cfg_ = load_image_config(dir_);
  const std::string pre = io::join_path(dir_, "preprocessor_config.json");
  MVB_CHECK(
      image_cfg_.tiling.tile_height == cfg_.vision.image_size && image_cfg_.tiling.tile_width == cfg_.vision.image_size,
      pre, ": tiles of ", image_cfg_.tiling.tile_height, " x ", image_cfg_.tiling.tile_width,
      " differ from config.json's vision_config image_size ", cfg_.vision.image_size,
      " (transformers would interpolate the position embeddings; not implemented)");
  image_seq_length_ = read_image_seq_length(dir_, cfg_.image_seq_length);
  MVB_CHECK(image_seq_length_ == cfg_.tokens_per_tile(), io::join_path(dir_, "processor_config.json"),
            ": image_seq_length ", image_seq_length_, " differs from the ", cfg_.tokens_per_tile(),
            " tokens the vision tower gives per tile");

  const std::string where = io::join_path(dir_, "config.json");
  nn::DecoderOptions d = nn::decoder_options_from_config(cfg_.text_config, where);
  io::StateDict sd = io::StateDict::open(dir_);
  bool has_head = false;
  for (const auto& n : sd.names())
    if (n == "lm_head.weight" || n == "language_model.lm_head.weight") has_head = true;
  // transformers 4.53.1 ties when text_config.tie_word_embeddings says so (embed_tokens replaces a stored
  // head); transformers 5 reads the top-level key but keeps a stored head that differs. A folder without
  // lm_head.weight is tied under either key; one that is needed but missing is an error.
  tied_ = cfg_.text_tie_word_embeddings || (!has_head && cfg_.top_tie_word_embeddings);
  MVB_CHECK(tied_ || has_head, dir_,
            ": the checkpoint has no lm_head.weight and config.json does not tie it to the "
            "embeddings (tie_word_embeddings false)");
  d.tie_word_embeddings = tied_;
  {
    // Parameters are created in the run's dtype: an 8B model never exists in fp32 first.
    nn::DefaultDtypeGuard in_run_dtype(dtype_);
    vision_ = VisionStack(cfg_, d.hidden_size);
    lm_ = nn::CausalLM(d);
  }
  const nn::TensorMap all = nn::read_weights(sd, checkpoint_to_module);
  nn::TensorMap vis, lm;
  for (const auto& [name, t] : all) {
    if (name.rfind("v.", 0) == 0) {
      vis[name.substr(2)] = t;
    } else if (!(tied_ && name == "lm.lm_head.weight")) {
      lm[name.substr(3)] = t;
    }
  }
  nn::assign_weights(*vision_, vis, sd.source());
  nn::assign_weights(*lm_, lm, sd.source(), tied_ ? std::vector<std::string>{"lm_head."} : std::vector<std::string>{});
  vision_->to(device_, dtype_);
  lm_->to(device_, dtype_);
  vision_->eval();
  lm_->eval();
  backend_ = std::make_unique<nn::CausalLMBackend>(lm_);
  tokenizer_ = text::load_tokenizer(dir_);
  check_chat_template(*tokenizer_, dir_);
  const auto ctx = tokenizer_->token_to_id("<IMG_CONTEXT>");
  MVB_CHECK(ctx && *ctx == cfg_.image_token_id, dir_, ": the tokenizer's <IMG_CONTEXT> id (",
            ctx ? std::to_string(*ctx) : std::string("absent"), ") differs from config.json's image_token_id ",
            cfg_.image_token_id);
  for (const char* t : {"<img>", "</img>"})
    MVB_CHECK(tokenizer_->token_to_id(t).has_value(), dir_, ": the tokenizer has no ", t, " token");
  gen_defaults_ = nn::GenerationConfig::load(dir_);
}

nlohmann::json InternVLModel::describe() const {
  int64_t params = 0;
  for (const auto& p : vision_->parameters()) params += p.numel();
  for (const auto& p : lm_->parameters()) params += p.numel();
  const auto& t = image_cfg_.tiling;
  nlohmann::json d = {{"architecture", "InternVLForConditionalGeneration"},
                      {"model", "InternVL3"},
                      {"parameters", params},
                      {"dtype", std::string(c10::toString(dtype_))},
                      {"checkpoint", dir_},
                      {"image_processor", image_cfg_.processor_type},
                      {"tile", {t.tile_height, t.tile_width}},
                      {"min_patches", t.min_patches},
                      {"max_patches", t.max_patches},
                      {"image_seq_length", image_seq_length_},
                      {"vision_layers", cfg_.vision.num_layers},
                      {"tie_word_embeddings", tied_},
                      {"default_max_new_tokens", default_max_new_tokens_}};
  d.update(describe_generation());
  return d;
}

InternVLModel::Input InternVLModel::process(const GenerationRequest& request) {
  Input in;
  std::vector<at::Tensor> pixels;
  for (const ImageRef& ref : request.images) {
    const Pixels p = preprocess_image(decode_image(ref), image_cfg_);
    pixels.push_back(p.pixel_values);
    in.tiles.push_back(p.num_patches);
  }
  // model/internvl.py (N): [{"role": "user", "content": [image..., text]}]; a system turn only when the
  // request has one (agents).
  in.prompt_text = render_prompt(request.prompt, in.tiles, image_seq_length_, request.system_prompt);
  const auto ids32 = tokenizer_->encode(in.prompt_text, /*add_special_tokens=*/true);
  in.input_ids.assign(ids32.begin(), ids32.end());

  at::Tensor features;  // [sum(tiles) * image_seq_length, hidden]
  if (!pixels.empty()) {
    in.pixel_values = at::cat(pixels, 0);
    at::NoGradGuard no_grad;
    const at::Tensor f = vision_->image_features(in.pixel_values.to(device_, dtype_));
    features = f.reshape({-1, f.size(-1)});
  }
  // Split the ids at each image's run of <IMG_CONTEXT>: text chunks between, image chunks for the runs.
  std::vector<int64_t> text;
  size_t image = 0;
  int64_t offset = 0;
  const int64_t ctx = cfg_.image_token_id;
  for (size_t i = 0; i < in.input_ids.size();) {
    if (in.input_ids[i] != ctx) {
      text.push_back(in.input_ids[i++]);
      continue;
    }
    MVB_CHECK(image < in.tiles.size(), "the prompt holds more image placeholders than the request's ", in.tiles.size(),
              " images (does the question contain <IMG_CONTEXT>?)");
    const int64_t n = in.tiles[image] * image_seq_length_;
    for (int64_t k = 0; k < n; ++k)
      MVB_CHECK(i + k < in.input_ids.size() && in.input_ids[i + k] == ctx,
                "the tokenizer split an image's placeholders; its <IMG_CONTEXT> token is not a special token");
    if (!text.empty()) in.chunks.push_back(nn::InputChunk::text(std::move(text)));
    text.clear();
    in.chunks.push_back(nn::InputChunk::image(features.narrow(0, offset, n), std::vector<int64_t>(n, ctx)));
    offset += n;
    ++image;
    i += n;
  }
  MVB_CHECK(image == in.tiles.size(), "the prompt holds ", image, " images but the request has ", in.tiles.size());
  if (!text.empty()) in.chunks.push_back(nn::InputChunk::text(std::move(text)));
  return in;
}

LocalVlm::Prepared InternVLModel::prepare_one(const GenerationRequest& request) {
  Input in = process(request);
  return Prepared{std::move(in.chunks), std::move(in.prompt_text)};
}

at::Tensor InternVLModel::forward_logits(const Input& input) {
  at::NoGradGuard no_grad;
  const int64_t L = static_cast<int64_t>(input.input_ids.size());
  const at::Tensor ids = at::tensor(input.input_ids, at::kLong).to(device_).view({1, L});
  // InternVLModel.forward: embed every id, then scatter the image features over the placeholders.
  at::Tensor embeds = lm_->model->embed(ids).clone();
  scatter_image_chunks(embeds[0], input.chunks);
  nn::DecoderInputs in;
  in.inputs_embeds = embeds;
  in.position_ids = at::arange(L, at::TensorOptions().dtype(at::kLong).device(device_)).view({1, L});
  return lm_->forward(in, nullptr, nn::LogitsFor::kAll)[0].to(at::kFloat);
}

nn::GenerationConfig InternVLModel::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  g.max_new_tokens = resolve_max_new_tokens(request, default_max_new_tokens_);
  // N's wrapper: generate(..., do_sample=temperature > 0, temperature=temperature) when one is given.
  if (request.temperature) {
    g.do_sample = *request.temperature > 0;
    if (g.do_sample) g.temperature = *request.temperature;
  }
  return g;
}

}  // namespace mvb::internvl

namespace mvb {

MVB_REGISTER(model_registry(), "InternVL3",
             ModelEntry{
                 "generative",
                 {"vqa", "caption"},
                 "InternVL3 (HF InternVLForConditionalGeneration -hf checkpoint, e.g. OpenGVLab/InternVL3-8B-hf): "
                 "dynamic 448 px tiles, InternViT, Qwen2 decoder",
                 true,
                 [](const ModelSpec& s) -> std::unique_ptr<Model> {
                   return std::make_unique<internvl::InternVLModel>(s);
                 },
                 "OpenGVLab/InternVL3-8B-hf"});

}  // namespace mvb
