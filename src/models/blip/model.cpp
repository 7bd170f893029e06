// BLIP for vqa / caption (BlipForQuestionAnswering) and as a diagnosis backbone; see models/blip/model.h.
// transformers 5.23 models/blip/modeling_blip.py (BlipForQuestionAnswering.generate,
// BlipForImageTextRetrieval.forward with use_itm_head=False, BlipModel.get_*_features); the reference's
// model/blip.py (BLIPForQA, BLIPLPForDiagnosis, BLIPForDiagnosis).
#include "medvlmbench/models/blip/model.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb::blip {
namespace {

namespace hf = nn::hf;

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

bool has_prefix(const io::StateDict& sd, const std::string& prefix) {
  for (const auto& n : sd.names())
    if (starts_with(n, prefix)) return true;
  return false;
}

// The reference's max_length=768 counts the [DEC] start token.
constexpr int64_t kReferenceMaxLength = 768;

}  // namespace

BlipConfig BlipConfig::load(const std::string& dir) {
  const std::string path = io::join_path(dir, "config.json");
  const nlohmann::json j = read_json_file(path);
  const std::string type = hf::get_string(j, "model_type", "blip", path);
  MVB_CHECK(type == "blip", path, ": model_type \"", type,
            "\" is not a BLIP checkpoint (BlipConfig, model_type \"blip\"); for BLIP-2 use --model BLIP2-2.7b");
  BlipConfig c;
  const nlohmann::json none = nlohmann::json::object();
  c.vision = VisionConfig::blip(j.contains("vision_config") ? j.at("vision_config") : none, path);
  c.text = TextConfig::from_json(j.contains("text_config") ? j.at("text_config") : none, path);
  c.image_text_hidden_size = hf::get_int(j, "image_text_hidden_size", c.image_text_hidden_size, path);
  c.projection_dim = hf::get_int(j, "projection_dim", c.projection_dim, path);
  if (hf::has(j, "architectures"))
    for (const auto& a : j.at("architectures"))
      if (a.is_string()) c.architectures.push_back(a.get<std::string>());
  // The text encoder cross-attends to the image tokens: their width must be the text config's.
  MVB_CHECK(c.text.encoder_hidden_size == c.vision.hidden_size, path, ": text_config.encoder_hidden_size ",
            c.text.encoder_hidden_size, " differs from vision_config.hidden_size ", c.vision.hidden_size);
  return c;
}

ImageTransform blip_image_transform(const std::string& dir, const VisionConfig& vision) {
  ImageTransform t;  // BlipImageProcessor's defaults: exact resize, bicubic, no crop, CLIP mean/std
  t.resize_mode = "exact";
  t.resize = t.resize_width = t.resize_height = static_cast<int>(vision.image_size);
  t.crop = 0;
  t = transform_from_preprocessor_config(io::join_path(dir, "preprocessor_config.json"), t);
  MVB_CHECK(transform_output_size(t) == vision.image_size, io::join_path(dir, "preprocessor_config.json"), " gives ",
            transform_output_size(t), " px images but the vision tower takes ", vision.image_size);
  return t;
}

// ---------------------------------------------------------------- vqa

VqaNetImpl::VqaNetImpl(const BlipConfig& c) {
  vision_model = register_module("vision_model", VisionModel(c.vision));
  text_encoder = register_module("text_encoder", TextModel(c.text, /*pooler=*/false));
  text_decoder = register_module("text_decoder", TextLMHeadModel(c.text));
}

at::Tensor AnswerDecoderBackend::embed_tokens(const at::Tensor& ids) { return decoder_->bert->embed_tokens(ids); }

at::Tensor AnswerDecoderBackend::forward_last(const nn::DecoderInputs& in, nn::KVCache& cache) {
  MVB_CHECK(cross_.defined(), "BLIP answer decoder: no question encoding (begin_batch was not called)");
  at::Tensor h =
      decoder_->bert->forward(in.inputs_embeds, in.position_ids, in.attention_mask, /*causal=*/true, cross_, &cache);
  cache.commit(in.inputs_embeds.size(1));
  return decoder_->logits(h.select(1, h.size(1) - 1)).to(at::kFloat);
}

nn::KVCache AnswerDecoderBackend::make_cache(int64_t batch, int64_t capacity) {
  const TextConfig& c = decoder_->bert->cfg;
  nn::KVCacheShape s;
  s.num_layers = c.num_hidden_layers;
  s.batch = batch;
  s.kv_heads = c.num_attention_heads;
  s.head_dim = c.head_dim();
  s.capacity = capacity;
  return nn::KVCache(s, dtype(), device());
}

void AnswerDecoderBackend::begin_batch(const std::vector<nn::MultimodalInput>& inputs) {
  // Each input's question encoding, padded to the longest and masked (see model.h).
  std::vector<at::Tensor> states;
  int64_t longest = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    at::Tensor s;
    for (const auto& chunk : inputs[i])
      if (chunk.cross_states.defined()) s = chunk.cross_states;
    MVB_CHECK(s.defined() && s.dim() == 2, "BLIP answer decoder: input ", i,
              " carries no question encoding [tokens, hidden] (InputChunk::cross_states)");
    states.push_back(s);
    longest = std::max(longest, s.size(0));
  }
  const auto B = static_cast<int64_t>(states.size());
  at::Tensor padded = at::zeros({B, longest, states.front().size(1)}, states.front().options());
  at::Tensor mask = at::zeros({B, longest}, at::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = states[b].size(0);
    padded[b].narrow(0, 0, n).copy_(states[b]);
    mask[b].narrow(0, 0, n).fill_(1);
  }
  at::NoGradGuard g;
  cross_ = decoder_->bert->cross_states(padded.to(device(), dtype()), mask.to(device()));
}

void AnswerDecoderBackend::select_rows(const std::vector<int64_t>& rows) { cross_.select_rows(rows); }

c10::Device AnswerDecoderBackend::device() const { return decoder_->bias.device(); }
at::ScalarType AnswerDecoderBackend::dtype() const { return decoder_->bias.scalar_type(); }

BlipVqaModel::BlipVqaModel(const ModelSpec& spec)
    : LocalVlm(LocalVlmOptions::from_spec(spec)),
      dir_(resolve_checkpoint_dir(spec)),
      device_(spec.device),
      dtype_(resolve_dtype(spec)) {
  // The reference's only BLIP quirk (a 3-D pixel tensor: every sample fails) is not reproducible output.
  options_.check_compat({}, spec.name);
  cfg_ = BlipConfig::load(dir_);
  io::StateDict sd = io::StateDict::open(dir_);
  source_ = sd.source();
  MVB_CHECK(has_prefix(sd, "text_encoder.") && has_prefix(sd, "text_decoder."), source_,
            " holds no BlipForQuestionAnswering weights (text_encoder.*, text_decoder.*); BLIP for vqa / caption "
            "needs that class's checkpoint, e.g. Salesforce/blip-vqa-base (this one: ",
            cfg_.architectures.empty() ? std::string("no architectures in config.json") : cfg_.architectures.front(),
            ")");
  MVB_CHECK(cfg_.text.is_decoder, dir_,
            "/config.json: text_config.is_decoder is false, so the text model has no "
            "cross-attention; BlipForQuestionAnswering needs it");
  net_ = VqaNet(cfg_);
  nn::TensorMap t = nn::read_weights(sd, nn::drop_position_ids);
  fuse_qkv_bias(t, source_);
  // BlipTextLMHeadModel ties decoder.weight to the decoder's word embeddings and decoder.bias to
  // cls.predictions.bias; transformers 5 saves neither tied copy, older checkpoints hold both.
  const std::string pred = "text_decoder.cls.predictions.";
  if (!t.count(pred + "decoder.weight")) {
    auto emb = t.find("text_decoder.bert.embeddings.word_embeddings.weight");
    if (emb != t.end()) t[pred + "decoder.weight"] = emb->second;
  }
  if (t.count(pred + "decoder.bias")) {
    if (!t.count(pred + "bias")) t[pred + "bias"] = t[pred + "decoder.bias"];
    t.erase(pred + "decoder.bias");
  }
  nn::assign_weights(*net_, t, source_);
  t.clear();
  net_->to(device_, dtype_);
  net_->eval();
  for (auto& p : net_->parameters()) p.set_requires_grad(false);
  backend_ = std::make_unique<AnswerDecoderBackend>(net_->text_decoder);
  tokenizer_ = text::load_tokenizer(dir_);
  transform_ = blip_image_transform(dir_, cfg_.vision);
  max_question_tokens_ = std::min<int64_t>(cfg_.text.max_position_embeddings, tokenizer_->config().model_max_length);
}

std::vector<int64_t> BlipVqaModel::question_ids(const std::string& question) const {
  const TextBatch b = tokenize_batch(*tokenizer_, {question}, max_question_tokens_, cfg_.text.pad_token_id);
  const at::Tensor ids = b.input_ids[0].contiguous();
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
}

at::Tensor BlipVqaModel::encode_questions(const at::Tensor& pixel_values, const at::Tensor& input_ids,
                                          const at::Tensor& attention_mask) {
  at::NoGradGuard g;
  const at::Tensor image = net_->vision_model->forward(pixel_values.to(device_, dtype_)).last_hidden_state;
  // BlipForQuestionAnswering: encoder_attention_mask = ones over the image tokens.
  return net_->text_encoder->encode(input_ids.to(device_), attention_mask.to(device_), image);
}

at::Tensor BlipVqaModel::decoder_logits(const at::Tensor& question_states, const at::Tensor& question_mask,
                                        const at::Tensor& decoder_input_ids) {
  at::NoGradGuard g;
  TextModel& bert = net_->text_decoder->bert;
  const CrossStates cross =
      bert->cross_states(question_states, question_mask.defined() ? question_mask.to(device_) : question_mask);
  const at::Tensor ids = decoder_input_ids.to(device_);
  const at::Tensor pos = at::arange(ids.size(1), ids.options()).unsqueeze(0);
  at::Tensor h = bert->forward(bert->embed_tokens(ids), pos, {}, /*causal=*/true, cross);
  return net_->text_decoder->logits(h).to(at::kFloat);
}

std::vector<LocalVlm::Prepared> BlipVqaModel::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<at::Tensor> pixels;
  std::vector<std::string> questions;
  for (const GenerationRequest* r : requests) {
    MVB_CHECK(r->images.size() == 1, "BLIP answers about one image per question; this request has ", r->images.size());
    pixels.push_back(preprocess(decode_image(r->images[0]), transform_));
    questions.push_back(r->prompt);
  }
  // tokenizer(qs, padding=True, truncation=True), one row per request.
  const TextBatch b = tokenize_batch(*tokenizer_, questions, max_question_tokens_, cfg_.text.pad_token_id);
  const at::Tensor states = encode_questions(at::stack(pixels), b.input_ids, b.attention_mask);
  const at::Tensor lengths = b.attention_mask.sum(1);
  std::vector<Prepared> out(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    nn::InputChunk chunk = nn::InputChunk::text({cfg_.text.bos_token_id});
    // Each row's real tokens only; the backend pads and masks them per batch.
    chunk.cross_states = states[row].narrow(0, 0, lengths[row].item<int64_t>());
    out[i].input.push_back(std::move(chunk));
    out[i].prompt_text = requests[i]->prompt;
  }
  return out;
}

nn::GenerationConfig BlipVqaModel::generation_config(const GenerationRequest& request) const {
  // model/blip.py: model.generate(input_ids, attention_mask, pixel_values, max_length=768): greedy;
  // BlipForQuestionAnswering.generate starts the decoder at bos_token_id and stops at sep_token_id.
  nn::GenerationConfig g;
  g.max_new_tokens = resolve_max_new_tokens(request, kReferenceMaxLength - 1);
  // Absolute positions end at max_position_embeddings (transformers fails there; answers end long before).
  g.max_new_tokens = std::min<int64_t>(g.max_new_tokens, cfg_.text.max_position_embeddings - 1);
  g.do_sample = false;
  if (request.temperature && *request.temperature > 0) {
    g.do_sample = true;
    g.temperature = *request.temperature;
  }
  g.eos_token_ids = {cfg_.text.sep_token_id};
  g.pad_token_id = cfg_.text.pad_token_id;
  g.bos_token_id = cfg_.text.bos_token_id;
  return g;
}

nlohmann::json BlipVqaModel::describe() const {
  int64_t params = 0;
  for (const auto& p : net_->parameters()) params += p.numel();
  nlohmann::json d = {
      {"architecture", "BLIP VQA (BlipForQuestionAnswering: ViT-" + std::to_string(cfg_.vision.patch_size) + " " +
                           std::to_string(cfg_.vision.image_size) + "px " +
                           std::to_string(cfg_.vision.num_hidden_layers) + "L, BERT encoder/decoder " +
                           std::to_string(cfg_.text.num_hidden_layers) + "L/" + std::to_string(cfg_.text.hidden_size) +
                           ")"},
      {"parameters", params},
      {"dtype", std::string(c10::toString(dtype_))},
      {"checkpoint", dir_},
      {"weights", source_},
      {"tokenizer", tokenizer_->kind()},
      {"batching",
       "one row per request; padded questions masked in the decoder's cross-attention (the reference "
       "fails on every sample: 3-D pixel tensor)"}};
  d.update(describe_generation({}));
  return d;
}

// ---------------------------------------------------------------- diagnosis

BlipTowers::BlipTowers(const ModelSpec& spec) : ContrastiveTowers(spec) {
  cfg_ = BlipConfig::load(checkpoint_dir_);
  io::StateDict sd = io::StateDict::open(checkpoint_dir_);
  MVB_CHECK(has_prefix(sd, "vision_model."), sd.source(), " holds no BLIP vision tower (vision_model.*)");
  if (sd.contains("vision_proj.weight") && sd.contains("text_proj.weight") && has_prefix(sd, "text_encoder."))
    head_ = Head::kItc;
  else if (sd.contains("visual_projection.weight") && sd.contains("text_projection.weight") &&
           has_prefix(sd, "text_model."))
    head_ = Head::kBlipModel;
  projected_ = spec.usage == "clip-zs" || spec.usage == "clip-img-lora";
  MVB_USAGE_CHECK(!projected_ || head_ != Head::kNone, "--usage ", spec.usage, " scores images against text, but ",
                  sd.source(),
                  " has no BLIP image-text head: neither BlipForImageTextRetrieval's (vision_proj, text_proj, "
                  "text_encoder) nor BlipModel's (visual_projection, text_projection, text_model). Use a retrieval "
                  "checkpoint such as Salesforce/blip-itm-base-coco, or --usage lp / img-lora-lp. (The reference "
                  "loads BlipModel from blip-image-captioning-base, whose text tower and projections do not exist "
                  "and are initialised at random.)");

  root_ = std::make_shared<torch::nn::Module>();
  vision_ = root_->register_module("vision_model", VisionModel(cfg_.vision));
  std::vector<std::string> prefixes = {"vision_model."};
  if (projected_ && head_ == Head::kItc) {
    text_ = root_->register_module("text_encoder", TextModel(cfg_.text, /*with_pooler=*/false));
    vision_proj_ = root_->register_module(
        "vision_proj", nn::Linear(cfg_.vision.hidden_size, cfg_.image_text_hidden_size, /*bias=*/true));
    text_proj_ = root_->register_module("text_proj",
                                        nn::Linear(cfg_.text.hidden_size, cfg_.image_text_hidden_size, /*bias=*/true));
    prefixes.insert(prefixes.end(), {"text_encoder.", "vision_proj.", "text_proj."});
    embed_dim_ = cfg_.image_text_hidden_size;
  } else if (projected_) {
    text_ = root_->register_module("text_model", TextModel(cfg_.text, /*with_pooler=*/true));
    vision_proj_ = root_->register_module("visual_projection",
                                          nn::Linear(cfg_.vision.hidden_size, cfg_.projection_dim, /*bias=*/false));
    text_proj_ = root_->register_module("text_projection",
                                        nn::Linear(cfg_.text.hidden_size, cfg_.projection_dim, /*bias=*/false));
    root_->register_parameter("logit_scale", at::zeros({}));
    prefixes.insert(prefixes.end(), {"text_model.", "visual_projection.", "text_projection.", "logit_scale"});
    embed_dim_ = cfg_.projection_dim;
  } else {
    embed_dim_ = cfg_.vision.hidden_size;
  }
  nn::TensorMap t = nn::read_weights(sd, [&](const std::string& n) -> std::optional<std::string> {
    for (const auto& p : prefixes)
      if (starts_with(n, p)) return nn::drop_position_ids(n);
    return std::nullopt;  // the checkpoint's other heads (decoder, ITM, ...) are not used here
  });
  fuse_qkv_bias(t, sd.source());
  nn::assign_weights(*root_, t, sd.source());
  if (projected_ && head_ == Head::kBlipModel)
    logit_scale_ = t.at("logit_scale").to(at::kFloat).exp().item<double>();
  else
    logit_scale_ = 1.0;  // BlipForImageTextRetrieval's ITC output is the bare cosine similarity
  t.clear();
  if (projected_) {
    tokenizer_ = text::load_tokenizer(checkpoint_dir_);
    max_len_ = std::min<int64_t>(cfg_.text.max_position_embeddings, tokenizer_->config().model_max_length);
  }
  transform_ = blip_image_transform(checkpoint_dir_, cfg_.vision);
  const std::string features = !projected_           ? "class token"
                               : head_ == Head::kItc ? "ITC vision_proj/text_proj"
                                                     : "BlipModel projections";
  finish_setup("BLIP ViT-" + std::to_string(cfg_.vision.patch_size) + " " + std::to_string(cfg_.vision.image_size) +
               "px (" + std::to_string(cfg_.vision.num_hidden_layers) + "L/" + std::to_string(cfg_.vision.hidden_size) +
               "), features: " + features);
}

at::Tensor BlipTowers::image_features(const at::Tensor& pixel_values) {
  const VisionOutput v = vision_->forward(pixel_values.to(device_, dtype_));
  if (!projected_) return v.last_hidden_state.select(1, 0);  // BLIPLPForDiagnosis.extract_features
  if (head_ == Head::kItc) return vision_proj_->forward(v.last_hidden_state.select(1, 0));
  return vision_proj_->forward(v.pooler_output);  // BlipModel.get_image_features
}

at::Tensor BlipTowers::text_features(const TextBatch& b) {
  MVB_CHECK(projected_, "BLIP text features exist for clip-zs / clip-img-lora only (lp uses image features)");
  const at::Tensor h = text_->encode(b.input_ids.to(device_), b.attention_mask.to(device_));
  if (head_ == Head::kItc) return text_proj_->forward(h.select(1, 0));
  return text_proj_->forward(text_->pool(h));  // BlipModel.get_text_features: the pooler output
}

TextBatch BlipTowers::tokenize(const std::vector<std::string>& texts) const {
  MVB_CHECK(tokenizer_ != nullptr, "BLIP text features exist for clip-zs / clip-img-lora only");
  return tokenize_batch(*tokenizer_, texts, max_len_, cfg_.text.pad_token_id);
}

nlohmann::json BlipTowers::describe() const {
  nlohmann::json d = ContrastiveTowers::describe();
  d["features"] =
      !projected_ ? "vision last_hidden_state[:, 0] (the reference's BLIPLPForDiagnosis)"
      : head_ == Head::kItc
          ? "BlipForImageTextRetrieval ITC: normalize(vision_proj(image CLS)) . normalize(text_proj(text CLS))"
          : "BlipModel: visual_projection(pooler_output), text_projection(text pooler), exp(logit_scale)";
  return d;
}

namespace {

std::unique_ptr<Model> make_blip(const ModelSpec& spec) {
  if (spec.task == "diagnosis") return std::make_unique<BlipTowers>(spec);
  return std::make_unique<BlipVqaModel>(spec);
}

}  // namespace

MVB_REGISTER(model_registry(), "BLIP",
             ModelEntry{"generative",
                        {"vqa", "caption", "diagnosis"},
                        "Salesforce BLIP: BlipForQuestionAnswering for vqa / caption (blip-vqa-base); its ViT (and "
                        "an ITC head where the checkpoint has one) for diagnosis",
                        /*needs_checkpoint=*/true,
                        make_blip,
                        "Salesforce/blip-vqa-base",
                        {{"diagnosis", TaskOverride{"contrastive", "Salesforce/blip-image-captioning-base"}}}});

}  // namespace mvb::blip
