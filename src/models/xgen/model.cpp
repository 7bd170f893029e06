// XGenMiniV1 (xGen-MM phi3-mini instruct r-v1) as LAVIS's XGenMMPerceiver computes it; see the header.
#include "medvlmbench/models/xgen/model.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/weights.h"

namespace mvb::xgen {
namespace {

// Checkpoint (vlm.*) -> module names; the fused Phi-3 projections are split afterwards (split_fused).
std::optional<std::string> checkpoint_to_module(const std::string& n) {
  auto starts = [&](const std::string& p) { return n.rfind(p, 0) == 0; };
  auto rest = [&](const std::string& p) { return n.substr(p.size()); };
  if (starts("vlm.vision_encoder.head.")) return std::nullopt;  // SigLIP's pooling head: unused by xGen-MM
  if (n.find("position_ids") != std::string::npos) return std::nullopt;
  if (starts("vlm.vision_encoder.")) return "vision." + rest("vlm.vision_encoder.");
  if (starts("vlm.vision_tokenizer.")) return "perceiver." + rest("vlm.vision_tokenizer.");
  if (n == "vlm.lang_model.model.embed_tokens.additional_embedding.weight") return "lm.additional_embedding";
  if (n == "vlm.lang_model.lm_head.additional_fc.weight") return "lm.additional_fc";
  if (n == "vlm.lang_model.lm_head.additional_fc.bias") return "lm.additional_fc_bias";
  if (n == "vlm.lang_model.lm_head.bias") return "lm.lm_head_bias";
  if (starts("vlm.lang_model.")) return "lm.lm." + rest("vlm.lang_model.");
  return "unknown." + n;  // reported as unexpected by assign_weights
}

// Phi3Attention.qkv_proj = [q; k; v] rows, Phi3MLP.gate_up_proj = [gate; up] rows: split onto the shared
// decoder's q_proj / k_proj / v_proj and gate_proj / up_proj so its LLaMA block runs them unchanged.
nn::TensorMap split_fused(nn::TensorMap in, const nn::DecoderOptions& o) {
  nn::TensorMap out;
  const std::string qkv = "self_attn.qkv_proj.weight", gate_up = "mlp.gate_up_proj.weight";
  auto ends = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (auto& [name, t] : in) {
    if (ends(name, qkv)) {
      const std::string base = name.substr(0, name.size() - qkv.size()) + "self_attn.";
      const int64_t q = o.num_heads * o.head_dim, kv = o.num_kv_heads * o.head_dim;
      MVB_CHECK(t.dim() == 2 && t.size(0) == q + 2 * kv, name, " has ", t.sizes(), ", expected ", q + 2 * kv,
                " rows (num_attention_heads and num_key_value_heads times head_dim)");
      out[base + "q_proj.weight"] = t.narrow(0, 0, q);
      out[base + "k_proj.weight"] = t.narrow(0, q, kv);
      out[base + "v_proj.weight"] = t.narrow(0, q + kv, kv);
    } else if (ends(name, gate_up)) {
      const std::string base = name.substr(0, name.size() - gate_up.size()) + "mlp.";
      MVB_CHECK(t.dim() == 2 && t.size(0) == 2 * o.intermediate_size, name, " has ", t.sizes(), ", expected ",
                2 * o.intermediate_size, " rows (2 x intermediate_size)");
      out[base + "gate_proj.weight"] = t.narrow(0, 0, o.intermediate_size);
      out[base + "up_proj.weight"] = t.narrow(0, o.intermediate_size, o.intermediate_size);
    } else {
      out[name] = t;
    }
  }
  return out;
}

struct NetImpl : torch::nn::Module {
  NetImpl(const nn::VisionTransformer& v, const PerceiverResampler& p, const LanguageModel& l) {
    vision = register_module("vision", v);
    perceiver = register_module("perceiver", p);
    lm = register_module("lm", l);
  }
  nn::VisionTransformer vision{nullptr};
  PerceiverResampler perceiver{nullptr};
  LanguageModel lm{nullptr};
};
TORCH_MODULE(Net);

// The engine's view of the language model: DecoupledEmbedding in, DecoupledLinear out.
class Backend : public nn::GenerationBackend {
 public:
  explicit Backend(LanguageModel lm) : lm_(std::move(lm)) {}
  at::Tensor embed_tokens(const at::Tensor& ids) override { return lm_->embed(ids); }
  at::Tensor forward_last(const nn::DecoderInputs& in, nn::KVCache& cache) override {
    const at::Tensor h = lm_->lm->model->forward(in, &cache).last_hidden_state;
    return lm_->head(h.select(1, h.size(1) - 1));
  }
  nn::KVCache make_cache(int64_t batch, int64_t capacity) override { return lm_->lm->make_cache(batch, capacity); }
  c10::Device device() const override { return lm_->additional_embedding.device(); }
  at::ScalarType dtype() const override { return lm_->additional_embedding.scalar_type(); }

 private:
  LanguageModel lm_;
};

}  // namespace

PerceiverAttentionImpl::PerceiverAttentionImpl(int64_t dim, int64_t dh, int64_t h) : heads(h), dim_head(dh) {
  norm_media = register_module("norm_media", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  norm_latents = register_module("norm_latents", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  to_q = register_module("to_q", nn::Linear(dim, h * dh, /*bias=*/false));
  to_kv = register_module("to_kv", nn::Linear(dim, 2 * h * dh, /*bias=*/false));
  to_out = register_module("to_out", nn::Linear(h * dh, dim, /*bias=*/false));
}

at::Tensor PerceiverAttentionImpl::forward(const at::Tensor& x_in, const at::Tensor& latents_in,
                                           const at::Tensor& mask) {
  const int64_t b = x_in.size(0), n = latents_in.size(1);
  const at::Tensor x = norm_media->forward(x_in), lat = norm_latents->forward(latents_in);
  auto split_heads = [&](const at::Tensor& t) { return t.view({b, t.size(1), heads, dim_head}).transpose(1, 2); };
  const at::Tensor q = split_heads(to_q->forward(lat)) * std::pow(static_cast<double>(dim_head), -0.5);
  const auto kv = to_kv->forward(at::cat({x, lat}, 1)).chunk(2, -1);
  const at::Tensor k = split_heads(kv[0]), v = split_heads(kv[1]);
  at::Tensor sim = at::matmul(q, k.transpose(-1, -2));  // [B, heads, n, v + n]
  if (mask.defined()) {
    // The published code masks the media tokens outside the image (the latents always attend) with -inf.
    const at::Tensor keep = at::cat({mask.to(at::kBool), at::ones({b, n}, mask.options().dtype(at::kBool))}, 1);
    sim = sim.masked_fill(keep.logical_not().view({b, 1, 1, -1}), -INFINITY);
  }
  sim = sim - std::get<0>(sim.max(-1, true));
  const at::Tensor out = at::matmul(sim.softmax(-1), v).transpose(1, 2).reshape({b, n, heads * dim_head});
  return to_out->forward(out);
}

PerceiverResamplerImpl::PerceiverResamplerImpl(const Config& c) {
  const int64_t d = c.vis_feature_dim;
  latents = register_parameter("latents", at::zeros({c.num_vis_tokens, d}));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.perceiver_depth; ++i) {
    // Names as the published nn.ModuleList([PerceiverAttention, nn.Sequential(LayerNorm, Linear, GELU, Linear)]).
    torch::nn::ModuleList block, ff;
    attn.push_back(PerceiverAttention(d, c.perceiver_dim_head, c.perceiver_heads));
    ff_norm.push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    ff_in.push_back(nn::Linear(d, 4 * d, /*bias=*/false));
    ff_out.push_back(nn::Linear(4 * d, d, /*bias=*/false));
    ff->push_back(ff_norm.back());
    ff->push_back(ff_in.back());
    ff->push_back(torch::nn::GELU());
    ff->push_back(ff_out.back());
    block->push_back(attn.back());
    block->push_back(ff);
    layers->push_back(block);
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  projection = register_module("projection", nn::Linear(d, c.lang_embedding_dim, /*bias=*/true));
}

at::Tensor PerceiverResamplerImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  at::Tensor lat = latents.unsqueeze(0).expand({x.size(0), latents.size(0), latents.size(1)});
  for (size_t i = 0; i < attn.size(); ++i) {
    lat = attn[i]->forward(x, lat, mask) + lat;
    const at::Tensor h = ff_in[i]->forward(ff_norm[i]->forward(lat));
    lat = ff_out[i]->forward(at::gelu(h)) + lat;  // nn.GELU(): the exact (erf) form
  }
  return projection->forward(norm->forward(lat));
}

LanguageModelImpl::LanguageModelImpl(const Config& c) : initial_len(c.initial_tokenizer_len) {
  lm = register_module("lm", nn::CausalLM(c.text));
  additional_embedding = register_parameter("additional_embedding", at::zeros({3, c.text.hidden_size}));
  additional_fc = register_parameter("additional_fc", at::zeros({3, c.text.hidden_size}));
  // DecoupledLinear is an nn.Linear with a bias (zero when the checkpoint has none).
  lm_head_bias = register_parameter("lm_head_bias", at::zeros({c.text.vocab_size}));
  additional_fc_bias = register_parameter("additional_fc_bias", at::zeros({3}));
}

at::Tensor LanguageModelImpl::embed(const at::Tensor& ids) {
  // DecoupledEmbedding: ids above initial_tokenizer_len - 1 read additional_embedding.
  const at::Tensor extra = ids >= initial_len;
  const at::Tensor base = lm->model->embed(ids.masked_fill(extra, 0));
  if (!extra.any().item<bool>()) return base;
  const at::Tensor add =
      additional_embedding.index_select(0, (ids - initial_len).clamp_min(0).reshape({-1})).view(base.sizes());
  return at::where(extra.unsqueeze(-1), add, base);
}

at::Tensor LanguageModelImpl::head(const at::Tensor& h) {
  // DecoupledLinear: lm_head's first initial_tokenizer_len outputs, then additional_fc's.
  const at::Tensor w = lm->lm_head->weight.narrow(0, 0, initial_len);
  const at::Tensor main = at::linear(h, w, lm_head_bias.narrow(0, 0, initial_len));
  return at::cat({main, at::linear(h, additional_fc, additional_fc_bias)}, -1).to(at::kFloat);
}

XGenModel::XGenModel(const ModelSpec& spec)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), dir_(spec.model_path), device_(spec.device) {
  MVB_USAGE_CHECK(io::is_directory(dir_),
                  "XGenMiniV1 needs --model_path pointing at its checkpoint folder "
                  "(e.g. Salesforce/xgen-mm-phi3-mini-instruct-r-v1); ",
                  dir_, " is not a folder");
  cfg_ = Config::load(dir_);
  dtype_ = resolve_dtype(spec);
  options_.check_compat({}, "XGenMiniV1");
  image_cfg_ = ImageConfig::load(dir_);
  MVB_CHECK(image_cfg_.size == cfg_.vision.image_size, io::join_path(dir_, "preprocessor_config.json"), ": size ",
            image_cfg_.size, " differs from the vision tower's image_size ", cfg_.vision.image_size);
  {
    nn::DefaultDtypeGuard in_run_dtype(dtype_);
    vision_ = nn::VisionTransformer(cfg_.vision.tower());
    perceiver_ = PerceiverResampler(cfg_);
    lm_ = LanguageModel(cfg_);
  }
  Net net(vision_, perceiver_, lm_);
  io::StateDict sd = io::StateDict::open(dir_);
  nn::assign_weights(*net, split_fused(nn::read_weights(sd, checkpoint_to_module), cfg_.text), sd.source(),
                     {"lm.lm_head_bias", "lm.additional_fc_bias"});
  net->to(device_, dtype_);
  net->eval();
  backend_ = std::make_unique<Backend>(lm_);
  // use_fast=False, legacy=False: the slow LlamaTokenizer over tokenizer.model.
  tokenizer_ = text::load_tokenizer(dir_, text::Preference::kSlow);
  const auto end = tokenizer_->token_to_id("<|end|>");
  MVB_CHECK(end, io::join_path(dir_, "tokenizer_config.json"), ": the tokenizer has no <|end|> token");
  end_id_ = *end;
  MVB_CHECK(tokenizer_->vocab_size() == cfg_.initial_tokenizer_len, dir_, ": the tokenizer has ",
            tokenizer_->vocab_size(), " tokens but config.json's initial_tokenizer_len is ", cfg_.initial_tokenizer_len,
            " (<image> would not get the id the model was trained with)");
  MVB_CHECK(tokenizer_->token_to_id("<|user|>") && tokenizer_->token_to_id("<unk>") == 0, dir_,
            ": the tokenizer lacks Phi-3's <|user|> or <unk> = 0");
  gen_defaults_ = nn::GenerationConfig::load(dir_);
  // XGenMMModelForConditionalGeneration.update_special_tokens: the three tokens become the additional special
  // tokens, with the ids after the checkpoint's tokenizer (the model's additional embeddings).
  tokenizer_->add_additional_special_tokens({"<image>", "<image placeholder>", "<|endofchunk|>"});
  MVB_CHECK(tokenizer_->token_to_id("<image>") == media_token_id(), dir_,
            ": the tokenizer already holds <image> under another id than initial_tokenizer_len");
}

nlohmann::json XGenModel::describe() const {
  int64_t params = 0;
  for (const auto& p : vision_->parameters()) params += p.numel();
  for (const auto& p : perceiver_->parameters()) params += p.numel();
  for (const auto& p : lm_->parameters()) params += p.numel();
  nlohmann::json d = {{"architecture", "XGenMMModelForConditionalGeneration"},
                      {"model", "XGenMiniV1"},
                      {"parameters", params},
                      {"dtype", std::string(c10::toString(dtype_))},
                      {"checkpoint", dir_},
                      {"image_size", cfg_.vision.image_size},
                      {"tokens_per_crop", cfg_.num_vis_tokens},
                      {"anyres_grids", cfg_.anyres_grids},
                      {"stop", {{"<|end|>", end_id_}}},
                      {"default_max_new_tokens", 768},
                      {"image_size_argument", "the image's (W, H) (the reference passes a bound method)"}};
  d.update(describe_generation());
  return d;
}

std::vector<int64_t> XGenModel::encode_prompt(const std::string& rendered) const {
  const auto ids32 = tokenizer_->encode(rendered, /*add_special_tokens=*/true);
  std::vector<int64_t> ids(ids32.begin(), ids32.end());
  MVB_CHECK(std::count(ids.begin(), ids.end(), media_token_id()) == 1,
            "XGenMiniV1's prompt must hold exactly one <image> (does the question contain <image>?)");
  return ids;
}

at::Tensor XGenModel::image_tokens(const at::Tensor& pixel_values, int64_t width, int64_t height) {
  at::NoGradGuard no_grad;
  at::Tensor f = vision_->forward(pixel_values.to(device_, dtype_)).last_hidden_state;
  f = vision_->post_layernorm->forward(f);  // SiglipVisionTransformer's last_hidden_state is post-norm
  const int64_t side = cfg_.vision.image_size / cfg_.vision.patch_size, v = side * side, c = f.size(2);
  MVB_CHECK(f.size(1) == v, "vision features have ", f.size(1), " tokens, expected ", v);
  const auto [gw, gh] = select_best_resolution(width, height, cfg_.anyres_grids);
  const int64_t npw = gw / cfg_.vision.image_size, nph = gh / cfg_.vision.image_size, crops = f.size(0) - 1;
  MVB_CHECK(crops == npw * nph, "the processor made ", crops, " crops but the model's anyres grid for a ", width, " x ",
            height, " image has ", npw * nph, " (preprocessor_config.json grids differ from anyres_grids)");
  at::Tensor x, mask;
  if (crops == 0) {
    x = f;
    mask = at::ones({1, v}, f.options().dtype(at::kLong));
  } else {
    // Merge the crops into one grid [rows, cols, C], then regroup it in raster order into crop-sized groups: the
    // published code's view(-1, nph, npw, h * w) of the merged [C, rows, cols] grid.
    const int64_t rows = nph * side, cols = npw * side;
    const at::Tensor grid =
        f.narrow(0, 1, crops).reshape({nph, npw, side, side, c}).permute({0, 2, 1, 3, 4}).reshape({rows * cols, c});
    // unpad_image(keep_original_shape=True): rows or columns outside the image's aspect are masked.
    at::Tensor m = at::ones({rows, cols}, at::kLong);
    const double aspect = static_cast<double>(width) / height, current = static_cast<double>(cols) / rows;
    if (aspect > current) {
      const int64_t new_h = static_cast<int64_t>(height * (static_cast<double>(cols) / width));
      const int64_t pad = (rows - new_h) / 2;
      if (pad > 0) {
        m.narrow(0, 0, pad).zero_();
        m.narrow(0, rows - pad, pad).zero_();
      }
    } else {
      const int64_t new_w = static_cast<int64_t>(width * (static_cast<double>(rows) / height));
      const int64_t pad = (cols - new_w) / 2;
      if (pad > 0) {
        m.narrow(1, 0, pad).zero_();
        m.narrow(1, cols - pad, pad).zero_();
      }
    }
    x = at::cat({f.narrow(0, 0, 1), grid.view({crops, v, c})}, 0);
    mask = at::cat({at::ones({1, v}, at::kLong), m.view({crops, v})}, 0).to(device_);
  }
  return perceiver_->forward(x, mask).reshape({-1, cfg_.text.hidden_size});
}

XGenModel::Input XGenModel::process(const GenerationRequest& request) {
  MVB_CHECK(request.images.size() == 1, "XGenMiniV1 takes exactly one image per request (got ", request.images.size(),
            ")");
  Input in;
  in.prompt = render_prompt(request.prompt);
  in.input_ids = encode_prompt(in.prompt);
  const RgbImage img = decode_image(request.images[0]);
  in.pixel_values = preprocess_anyres(img, image_cfg_);
  const at::Tensor tokens = image_tokens(in.pixel_values, img.width, img.height);
  const auto at = std::find(in.input_ids.begin(), in.input_ids.end(), media_token_id());
  in.chunks.push_back(nn::InputChunk::text(std::vector<int64_t>(in.input_ids.begin(), at)));
  in.chunks.push_back(nn::InputChunk::image(tokens, std::vector<int64_t>(tokens.size(0), media_token_id())));
  in.chunks.push_back(nn::InputChunk::text(std::vector<int64_t>(at + 1, in.input_ids.end())));
  return in;
}

LocalVlm::Prepared XGenModel::prepare_one(const GenerationRequest& request) {
  Input in = process(request);
  return Prepared{std::move(in.chunks), std::move(in.prompt)};
}

at::Tensor XGenModel::forward_logits(const Input& input) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (const auto& c : input.chunks) {
    if (!c.token_ids.empty())
      parts.push_back(lm_->embed(at::tensor(c.token_ids, at::kLong).to(device_).view({1, -1}))[0]);
    else if (c.embeds.defined())
      parts.push_back(c.embeds.to(device_, dtype_));
  }
  nn::DecoderInputs in;
  in.inputs_embeds = at::cat(parts, 0).unsqueeze(0);
  return lm_->head(lm_->lm->model->forward(in, nullptr).last_hidden_state)[0];
}

nn::GenerationConfig XGenModel::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  // The model card: greedy, max_new_tokens=768, EosListStoppingCriteria([<|end|>]) on top of the text config's eos.
  g.max_new_tokens = resolve_max_new_tokens(request, 768);
  g.do_sample = request.temperature && *request.temperature > 0;
  if (g.do_sample) g.temperature = *request.temperature;
  if (std::find(g.eos_token_ids.begin(), g.eos_token_ids.end(), end_id_) == g.eos_token_ids.end())
    g.eos_token_ids.push_back(end_id_);
  return g;
}

std::string XGenModel::decode_skip_special(const std::vector<int64_t>& ids) const {
  return tokenizer_->decode(std::vector<int32_t>(ids.begin(), ids.end()), /*skip_special_tokens=*/true);
}

std::string XGenModel::decode_answer(const std::vector<int64_t>& ids) const {
  std::string text = decode_skip_special(ids);
  const size_t end = text.find("<|end|>");
  if (end != std::string::npos) text.resize(end);
  // The reference does not strip; we do (GENERATIVE.md 3, item 11).
  text.erase(0, text.find_first_not_of(" \t\n\r"));
  const size_t last = text.find_last_not_of(" \t\n\r");
  text.resize(last == std::string::npos ? 0 : last + 1);
  return text;
}

}  // namespace mvb::xgen

namespace mvb {

MVB_REGISTER(model_registry(), "XGenMiniV1",
             ModelEntry{
                 "generative",
                 {"vqa", "caption"},
                 "xGen-MM phi3-mini instruct r-v1 (remote-code checkpoint Salesforce/xgen-mm-phi3-mini-instruct-"
                 "r-v1): SigLIP anyres + perceiver + Phi-3, greedy, 768 new tokens, stop on <|end|>",
                 true,
                 [](const ModelSpec& s) -> std::unique_ptr<Model> { return std::make_unique<xgen::XGenModel>(s); },
                 "Salesforce/xgen-mm-phi3-mini-instruct-r-v1"});

}  // namespace mvb
