// NVILA as the reference's model/vila.py drives the vendored VILA code; see the header.
#include "medvlmbench/models/nvila/model.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/vision/preprocessor.h"
#include "medvlmbench/vision/resample.h"

namespace mvb::nvila {
namespace {

constexpr const char* kSentinel = "<vila/sentinel>";  // utils/tokenizer.py SENTINEL_TOKEN
constexpr int64_t kTilesPerPass = 4;                  // bounds the tower's eager attention scores

std::vector<int64_t> to64(const std::vector<int32_t>& v) { return std::vector<int64_t>(v.begin(), v.end()); }

// "4.46.0" >= "4.50.0"? (packaging's base version: the numeric release parts)
bool version_at_least(const std::string& v, int major, int minor) {
  int a = 0, b = 0;
  if (std::sscanf(v.c_str(), "%d.%d", &a, &b) < 1) return true;  // unreadable: the running 4.53.1 stamps it
  return a > major || (a == major && b >= minor);
}

}  // namespace

NvilaModel::NvilaModel(const ModelSpec& spec)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), dir_(resolve_checkpoint_dir(spec)), device_(spec.device) {
  MVB_USAGE_CHECK(io::is_directory(dir_),
                  "NVILA needs --model_path pointing at its VILA-layout checkpoint folder (e.g. "
                  "Efficient-Large-Model/NVILA-8B: config.json, llm/, vision_tower/, mm_projector/); ",
                  dir_, " is not a folder");
  options_.check_compat({}, "NVILA");  // no input quirk of the reference to opt into
  cfg_ = vila::load_config(dir_);
  dtype_ = resolve_dtype(spec);
  const std::string where = io::join_path(dir_, "config.json");
  MVB_CHECK(cfg_.dynamic_s2, where,
            ": dynamic_s2 is not true; this is not an NVILA checkpoint (VILA1.5 / VILA-M3 run as --model VILA1.5 / "
            "VILA-M3)");
  resize_path_ = cfg_.image_aspect_ratio == "resize";
  scales_ = cfg_.s2_scales;
  MVB_CHECK(!scales_.empty(), where, ": dynamic_s2 needs s2_scales (NVILA-8B: \"448,896,1344\")");
  for (size_t i = 0; i < scales_.size(); ++i) {
    MVB_CHECK(scales_[i] > 0 && scales_[i] % scales_[0] == 0 && (i == 0 || scales_[i] > scales_[i - 1]), where,
              ": s2_scales must be increasing multiples of the first scale (got ", cfg_.root_json["s2_scales"].dump(),
              ")");
  }
  MVB_CHECK(scales_[0] == cfg_.vision.image_size, where, ": the first s2 scale ", scales_[0],
            " differs from the vision tower's image_size ", cfg_.vision.image_size,
            " (the tiles would need interpolated position embeddings; not implemented)");
  MVB_CHECK(cfg_.vision_grid() % 2 == 0, where, ": the tower's ", cfg_.vision_grid(),
            " patches per side do not split into the projector's 2 x 2 blocks evenly; not implemented");
  // LlavaConfig's default is 0; NVILA-8B says -1 (the last scale).
  resize_idx_ = nn::hf::get_int(cfg_.root_json, "s2_resize_output_to_scale_idx", 0, where);
  const auto n_scales = static_cast<int64_t>(scales_.size());
  MVB_CHECK(resize_idx_ >= -n_scales && resize_idx_ < n_scales, where, ": s2_resize_output_to_scale_idx ", resize_idx_,
            " is outside the ", n_scales, " scales");
  MVB_CHECK(cfg_.max_tiles >= 1, where, ": max_tiles must be at least 1");

  // Tokenizer: the reference adds <vila/sentinel> (infer_stop_tokens) then <image> and <vila/video>
  // (MEDIA_TOKENS) when the saved tokenizer lacks them, each at the next id.
  tokenizer_ = text::load_tokenizer(cfg_.layout.tokenizer_dir);
  int64_t next = tokenizer_->vocab_size();
  auto id_of = [&](const char* token) -> int64_t {
    const auto id = tokenizer_->token_to_id(token);
    return id ? *id : next++;
  };
  id_of(kSentinel);
  image_token_id_ = id_of("<image>");
  id_of("<vila/video>");
  // model/vila.py's resize_token_embeddings(len(tokenizer)): a smaller tokenizer keeps the first rows of the
  // embeddings and the head (vila::load_weights slices them to text.vocab_size); a larger one cannot be followed.
  tokenizer_len_ = next;
  vocab_rows_ = std::min(next, cfg_.text.vocab_size);
  cfg_.text.vocab_size = vocab_rows_;
  {
    nn::DefaultDtypeGuard in_run_dtype(dtype_);  // an 8B model is never materialised in fp32 first
    net_ = vila::VilaNet(cfg_);
  }
  vila::load_weights(*net_);
  net_->to(device_, dtype_);
  net_->eval();
  backend_ = std::make_unique<nn::CausalLMBackend>(net_->llm);

  const std::string tok_where = io::join_path(cfg_.layout.tokenizer_dir, "tokenizer_config.json");
  MVB_CHECK(tokenizer_->config().has_chat_template, tok_where,
            ": the tokenizer has no chat template; the reference renders NVILA's prompt with "
            "tokenizer.apply_chat_template");
  template_ = parse_chat_template(tokenizer_->config().chat_template, tok_where);
  if (cfg_.image_encoder.end_tokens) end_ids_ = to64(tokenizer_->encode(*cfg_.image_encoder.end_tokens, true));
  if (cfg_.image_encoder.start_tokens) start_ids_ = to64(tokenizer_->encode(*cfg_.image_encoder.start_tokens, true));

  // tokenizer.stop_token_ids (infer_stop_tokens): the eos token, and the token the template writes right after an
  // assistant answer (ChatML: <|im_end|>).
  const auto& eos = tokenizer_->special_tokens().eos;
  MVB_CHECK(eos.present(), tok_where,
            ": the tokenizer has no eos token (the reference refuses: \"Tokenizer must have "
            "an EOS token\")");
  stop_ids_.push_back(eos.id);
  const auto after_answer = tokenizer_->encode("<|im_end|>\n", false);
  if (!after_answer.empty() && std::find(stop_ids_.begin(), stop_ids_.end(), after_answer[0]) == stop_ids_.end())
    stop_ids_.push_back(after_answer[0]);
  std::sort(stop_ids_.begin(), stop_ids_.end());
  model_max_length_ = tokenizer_->config().model_max_length;

  // default_generation_config: GenerationConfig() with eos / pad / bos from the tokenizer ...
  nn::GenerationConfig g = nn::GenerationConfig::from_json(nlohmann::json::object(), "GenerationConfig()");
  const nn::GenerationConfig defaults = g;
  g.eos_token_ids = stop_ids_;
  const auto& pad = tokenizer_->special_tokens().pad;
  const auto& bos = tokenizer_->special_tokens().bos;
  g.pad_token_id = pad.present() && pad.id != 0 ? pad.id : eos.id;  // `pad_token_id or eos_token_id`
  g.bos_token_id = bos.present() && bos.id != 0 ? bos.id : eos.id;
  // ... then llm.generate(generation_config=...): transformers 4.53 fills values left at GenerationConfig()'s
  // defaults from the llm's own generation config, but only when that was written by transformers >= 4.50.
  const std::string llm_gen = io::join_path(cfg_.layout.llm_dir, "generation_config.json");
  const std::string llm_src = io::exists(llm_gen) ? llm_gen : io::join_path(cfg_.layout.llm_dir, "config.json");
  const nlohmann::json mj = io::read_json(llm_src);
  const std::string version = nn::hf::get_string(mj, "transformers_version", "4.53.1", llm_src);
  gen_sources_ = {{"llm_generation_config", llm_src}, {"transformers_version", version}, {"merged", false}};
  if (version_at_least(version, 4, 50)) {
    const nn::GenerationConfig m = nn::GenerationConfig::from_json(mj, llm_src);
    if (g.do_sample == defaults.do_sample && m.do_sample != defaults.do_sample) g.do_sample = m.do_sample;
    if (g.temperature == defaults.temperature && m.temperature != defaults.temperature) g.temperature = m.temperature;
    if (g.top_k == defaults.top_k && m.top_k != defaults.top_k) g.top_k = m.top_k;
    if (g.top_p == defaults.top_p && m.top_p != defaults.top_p) g.top_p = m.top_p;
    if (g.repetition_penalty == defaults.repetition_penalty && m.repetition_penalty != defaults.repetition_penalty)
      g.repetition_penalty = m.repetition_penalty;
    if (nn::hf::has(mj, "max_new_tokens")) g.max_new_tokens = nn::hf::get_int(mj, "max_new_tokens", 0, llm_src);
    gen_sources_["merged"] = true;
    gen_sources_["llm_max_new_tokens"] = nn::hf::has(mj, "max_new_tokens");
  }
  gen_defaults_ = g;
}

nlohmann::json NvilaModel::describe() const {
  int64_t params = 0;
  for (const auto& p : net_->parameters()) params += p.numel();
  nlohmann::json d = {{"architecture", "LlavaLlamaModel (NVILA: dynamic-S2 SigLIP, mlp_downsample_2x2_fix, " +
                                           cfg_.llm_model_type + " decoder)"},
                      {"model", "NVILA"},
                      {"parameters", params},
                      {"dtype", std::string(c10::toString(dtype_))},
                      {"checkpoint", dir_},
                      {"image_aspect_ratio", cfg_.image_aspect_ratio},
                      {"s2_scales", scales_},
                      {"s2_resize_output_to_scale_idx", resize_idx_},
                      {"max_tiles", cfg_.max_tiles},
                      {"tokens_per_tile", (cfg_.vision_grid() / 2) * (cfg_.vision_grid() / 2)},
                      {"chat_template",
                       "the llm tokenizer's own (config.json's chat_template is dropped by the "
                       "reference's LlavaConfig)"},
                      {"default_system", template_.default_system},
                      {"stop_token_ids", stop_ids_},
                      {"vocab_rows", vocab_rows_},
                      {"model_max_length", model_max_length_},
                      {"generation_sources", gen_sources_},
                      {"temperature", "ignored: model/vila.py's infer_vision_language passes none"}};
  if (vocab_rows_ < tokenizer_len_)
    d["unreproducible"] =
        "len(tokenizer) exceeds the checkpoint's vocabulary: the reference appends randomly drawn "
        "embedding / head rows; those ids are never generated here";
  d.update(describe_generation());
  return d;
}

NvilaModel::Input NvilaModel::pixels(const RgbImage& img) const {
  Input in;
  ImageTransform t = cfg_.image_transform;
  t.crop = 0;
  t.crop_width = t.crop_height = 0;
  t.pad_to_square = false;
  const int64_t tile = scales_[0];
  std::vector<RgbImage> tiles;
  if (resize_path_) {
    // process_image "resize": image.resize((crop w, crop h)) (PIL bicubic), then the processor (already its size).
    tiles.push_back(pil_resize(img, static_cast<int>(tile), static_cast<int>(tile), Resample::kBicubic));
  } else {
    S2Tiles s = dynamic_s2_tiles(img, scales_, cfg_.max_tiles, tile);
    tiles = std::move(s.tiles);
    in.rows = s.rows;
    in.cols = s.cols;
  }
  t.resize_mode = "none";
  in.pixel_values = at::empty({static_cast<int64_t>(tiles.size()), 3, tile, tile}, at::kFloat);
  for (size_t i = 0; i < tiles.size(); ++i)
    in.pixel_values[static_cast<int64_t>(i)].copy_(to_normalized_tensor(tiles[i], t));
  return in;
}

at::Tensor NvilaModel::s2_features(const at::Tensor& pixel_values, int64_t rows, int64_t cols) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < pixel_values.size(0); i += kTilesPerPass)
    parts.push_back(net_->vision_features(
        pixel_values.slice(0, i, std::min(i + kTilesPerPass, pixel_values.size(0))).to(device_, dtype_)));
  return merge_s2_features(at::cat(parts, 0), scales_, resize_idx_, rows, cols).first;
}

at::Tensor NvilaModel::image_features(const at::Tensor& pixel_values, int64_t rows, int64_t cols) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < pixel_values.size(0); i += kTilesPerPass)
    parts.push_back(net_->vision_features(
        pixel_values.slice(0, i, std::min(i + kTilesPerPass, pixel_values.size(0))).to(device_, dtype_)));
  const auto [map, block] = merge_s2_features(at::cat(parts, 0), scales_, resize_idx_, rows, cols);
  // encode_images: split into blocks, "b c h w -> b (h w) c", project, merge the blocks, "1 c h w -> (h w) c".
  const at::Tensor blocks = split_chessboard(map, block.first, block.second).flatten(2).transpose(1, 2);
  const at::Tensor projected = net_->mm_projector->forward(blocks.contiguous());
  const at::Tensor merged = merge_chessboard(projected, block.first, block.second);
  return merged[0].flatten(1).transpose(0, 1).contiguous();
}

NvilaModel::Input NvilaModel::process(const GenerationRequest& request) {
  MVB_CHECK(!request.images.empty(),
            "NVILA takes one image per request (model/vila.py has no text-only path: infer_language raises)");
  // generate_content: one image takes the dynamic-S2 path (several would take process_images' one tile each, but
  // the reference only ever passes one).
  MVB_CHECK(request.images.size() == 1, "NVILA: ", request.images.size(),
            " images in one request; model/vila.py passes exactly one image");
  Input in = pixels(decode_image(request.images[0]));
  const std::string user = user_content(request.prompt);
  in.prompt_text = render_prompt(template_, user, request.system_prompt);
  // tokenize_conversation: tokenizer(text).input_ids, <image> being one added special token.
  const size_t at_image = in.prompt_text.find("<image>");
  MVB_CHECK(at_image != std::string::npos, "NVILA prompt without <image>");
  std::vector<int32_t> ids = tokenizer_->encode(in.prompt_text.substr(0, at_image), false);
  const size_t before = ids.size();
  ids.push_back(static_cast<int32_t>(image_token_id_));
  for (int32_t id : tokenizer_->encode(in.prompt_text.substr(at_image + 7), false)) ids.push_back(id);
  ids = tokenizer_->add_special_tokens(ids);
  (void)before;
  in.input_ids = to64(ids);
  // The image token's position (special tokens only ever go around the whole text).
  size_t p = 0;
  while (p < in.input_ids.size() && in.input_ids[p] != image_token_id_) ++p;
  MVB_CHECK(p < in.input_ids.size(), "NVILA: the <image> token is missing from the tokenized prompt");

  const at::Tensor features = image_features(in.pixel_values, in.rows, in.cols);
  in.chunks.push_back(nn::InputChunk::text(std::vector<int64_t>(in.input_ids.begin(), in.input_ids.begin() + p)));
  if (!start_ids_.empty()) in.chunks.push_back(nn::InputChunk::text(start_ids_));
  in.chunks.push_back(nn::InputChunk::image(features));
  if (!end_ids_.empty()) in.chunks.push_back(nn::InputChunk::text(end_ids_));
  in.chunks.push_back(nn::InputChunk::text(std::vector<int64_t>(in.input_ids.begin() + p + 1, in.input_ids.end())));
  in.positions = static_cast<int64_t>(in.input_ids.size()) - 1 + features.size(0) +
                 static_cast<int64_t>(start_ids_.size() + end_ids_.size());
  return in;
}

std::vector<LocalVlm::Prepared> NvilaModel::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<Prepared> out;
  out.reserve(requests.size());
  // Entries are overwritten per request before generation_config() asks for them (LocalVlm::generate prepares a
  // batch, or its requests one by one, first); the map is only kept from growing without bound.
  if (positions_.size() > 4096) positions_.clear();
  for (const GenerationRequest* r : requests) {
    Input in = process(*r);
    positions_[r] = in.positions;
    out.push_back(Prepared{std::move(in.chunks), std::move(in.prompt_text)});
  }
  return out;
}

at::Tensor NvilaModel::forward_logits(const Input& input) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (const auto& c : input.chunks) {
    if (c.embeds.defined()) {
      parts.push_back(c.embeds.to(device_, dtype_));
    } else if (!c.token_ids.empty()) {
      const at::Tensor ids = at::tensor(c.token_ids, at::kLong).to(device_).view({1, -1});
      parts.push_back(net_->llm->model->embed(ids)[0]);
    }
  }
  const at::Tensor embeds = at::cat(parts, 0).unsqueeze(0);
  const int64_t L = embeds.size(1);
  nn::DecoderInputs in;
  in.inputs_embeds = embeds;
  in.position_ids = at::arange(L, at::TensorOptions().dtype(at::kLong).device(device_)).view({1, L});
  return net_->llm->forward(in, nullptr, nn::LogitsFor::kAll)[0].to(at::kFloat);
}

nn::GenerationConfig NvilaModel::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  const bool llm_sets_new = gen_sources_.value("llm_max_new_tokens", false);
  if (!llm_sets_new) {
    // max_length = tokenizer.model_max_length, counted after the prompt when generating from inputs_embeds.
    int64_t budget = model_max_length_;
    if (budget >= (int64_t(1) << 40)) budget = net_->llm->opts.rope.max_position_embeddings;
    const auto it = positions_.find(&request);
    const int64_t used = it == positions_.end() ? 0 : it->second;
    g.max_new_tokens = std::max<int64_t>(1, budget - used);
  }
  if (options_.max_new_tokens > 0) g.max_new_tokens = options_.max_new_tokens;
  if (request.max_new_tokens) g.max_new_tokens = *request.max_new_tokens;
  return g;
}

}  // namespace mvb::nvila

namespace mvb {

MVB_REGISTER(model_registry(), "NVILA",
             ModelEntry{
                 "generative",
                 {"vqa", "caption"},
                 "NVILA (VILA-layout checkpoint, e.g. Efficient-Large-Model/NVILA-8B): dynamic-S2 SigLIP tiles at "
                 "448/896/1344, mlp_downsample_2x2_fix projector, Qwen2 decoder",
                 true,
                 [](const ModelSpec& s) -> std::unique_ptr<Model> { return std::make_unique<nvila::NvilaModel>(s); },
                 "Efficient-Large-Model/NVILA-8B"});

}  // namespace mvb
