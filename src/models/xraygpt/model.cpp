// XrayGPT (MiniGPT-4): the reference's model/xraygpt.py over the vendored MiniGPT-4; see
// include/medvlmbench/models/xraygpt/xraygpt.h for the layout, the names and the behaviour.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/blip2/blip2.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/xraygpt/xraygpt.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb::xraygpt {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// model/xraygpt.py: generate(max_new_tokens=300, num_beams=1, do_sample=True, top_p=0.9,
// repetition_penalty=1.0, length_penalty=1, temperature=1.0, eos_token_id=pad_token_id=eos).
constexpr int kReferenceMaxNewTokens = 300;
constexpr double kReferenceTopP = 0.9;
constexpr const char* kConfigFile = "xraygpt_config.json";
const char* const kBefore = "###Patient: <Img>";
const char* const kAfterOpen = "</Img> ";
const char* const kAfterClose = "###Doctor:";

// Where LAVIS's download_cached_file put the two weight files the reference fetches from URLs:
// torch.hub.get_dir()/checkpoints ($TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub, else ~/.cache/torch/hub).
std::vector<std::string> torch_hub_checkpoint_dirs() {
  std::vector<std::string> out;
  if (const char* t = std::getenv("TORCH_HOME"); t && *t) out.push_back(io::join_path(t, "hub/checkpoints"));
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) out.push_back(io::join_path(x, "torch/hub/checkpoints"));
  if (const char* h = std::getenv("HOME"); h && *h) out.push_back(io::join_path(h, ".cache/torch/hub/checkpoints"));
  return out;
}

// A file of the layout: <dir>/<name> (or the absolute path the config gives), else, for LAVIS's
// downloads, torch's hub cache. `what` and `fix` make the one-line error.
std::string find_file(const std::string& dir, const std::string& name, bool hub_cache, const std::string& what,
                      const std::string& key) {
  std::vector<std::string> tried;
  const std::string local = !name.empty() && name[0] == '/' ? name : io::join_path(dir, name);
  tried.push_back(local);
  if (io::exists(local)) return local;
  if (hub_cache && name.find('/') == std::string::npos)
    for (const auto& d : torch_hub_checkpoint_dirs()) {
      const std::string p = io::join_path(d, name);
      tried.push_back(p);
      if (io::exists(p)) return p;
    }
  throw UsageError("XrayGPT: no " + what + " (looked for " + join(tried, ", ") + "); put " + name + " in " + dir +
                   " or name the file with \"" + key + "\" in " + kConfigFile + " (models/README.md, XrayGPT)");
}

// Python's str.isspace for one code point.
bool py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// Decodes the UTF-8 code point starting at s[i] (length in *n); invalid bytes read as themselves.
uint32_t code_point(const std::string& s, size_t i, size_t* n) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + len > s.size()) len = 1;
  uint32_t c = len == 1 ? b : b & (0x7f >> len);
  for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  *n = static_cast<size_t>(len);
  return c;
}

std::string py_strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t n = 1;
    if (!py_space(code_point(s, b, &n))) break;
    b += n;
  }
  while (e > b) {
    size_t start = e - 1;  // back to the start of the last code point
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
    size_t n = 1;
    const uint32_t c = code_point(s, start, &n);
    if (start + n != e || !py_space(c)) break;
    e = start;
  }
  return s.substr(b, e - b);
}

void refuse_unknown_keys(const nlohmann::json& j, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [k, v] : j.items())
    MVB_CHECK(known.count(k), where, ": unknown key \"", k, "\" (known: ", join({known.begin(), known.end()}, ", "),
              ")");
}

}  // namespace

// ---------------------------------------------------------------- configuration and layout
Config Config::load(const std::string& dir) {
  Config c;
  c.dir = dir;
  const std::string path = io::join_path(dir, kConfigFile);
  nlohmann::json j = nlohmann::json::object();
  if (io::exists(path)) j = read_json_file(path);
  MVB_CHECK(j.is_object(), path, " must hold a JSON object");
  refuse_unknown_keys(j,
                      {"minigpt4_checkpoint", "eva_vit_g", "q_former", "llama_model", "image_size", "vision", "qformer",
                       "num_query_token"},
                      path);
  namespace hf = nn::hf;
  const std::string ckpt = hf::get_string(j, "minigpt4_checkpoint", "xraygpt_pretrained1.pth", path);
  const std::string eva = hf::get_string(j, "eva_vit_g", "eva_vit_g.pth", path);
  const std::string qf = hf::get_string(j, "q_former", "blip2_pretrained_flant5xxl.pth", path);
  const std::string llama = hf::get_string(j, "llama_model", "Vicuna_Radiology_fp16", path);

  // MiniGPT4(img_size=224, ...) with create_eva_vit_g's EVA ViT-g/14 and bert-base-uncased's config.
  nlohmann::json vj = j.contains("vision") ? j["vision"] : nlohmann::json::object();
  MVB_CHECK(vj.is_object(), path, ": \"vision\" must be an object");
  refuse_unknown_keys(vj,
                      {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size"},
                      path + " (vision)");
  vj["image_size"] = hf::get_int(j, "image_size", 224, path);
  vj["hidden_act"] = "gelu";  // nn.GELU (erf)
  c.vision = blip::VisionConfig::blip2(vj, path + " (vision)");
  c.vision.layer_norm_eps = 1e-6;      // norm_layer=partial(nn.LayerNorm, eps=1e-6)
  c.vision.post_layernorm_eps = 1e-5;  // ln_vision = LayerNorm(num_features)
  c.vision.qkv_bias = true;            // q_bias and v_bias
  nlohmann::json qj = j.contains("qformer") ? j["qformer"] : nlohmann::json::object();
  MVB_CHECK(qj.is_object(), path, ": \"qformer\" must be an object");
  refuse_unknown_keys(qj, {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"},
                      path + " (qformer)");
  c.qformer = blip2::QFormerConfig::from_json(qj, path + " (qformer)");  // bert-base defaults
  c.qformer.encoder_hidden_size = c.vision.hidden_size;                  // encoder_width = vision width
  c.qformer.cross_attention_frequency = 2;
  c.qformer.use_qformer_text_input = false;  // MiniGPT-4 sets intermediate / output to None
  c.num_query_token = hf::get_int(j, "num_query_token", 32, path);
  MVB_CHECK(c.num_query_token > 0, path, ": num_query_token must be positive");

  c.minigpt4_checkpoint = find_file(dir, ckpt, /*hub_cache=*/false,
                                    "MiniGPT-4 checkpoint " + ckpt + " (XrayGPT's release)", "minigpt4_checkpoint");
  c.eva_vit = find_file(dir, eva, /*hub_cache=*/true, "EVA ViT-g weights " + eva + " (LAVIS)", "eva_vit_g");
  c.qformer_init = find_file(dir, qf, /*hub_cache=*/true, "Q-Former weights " + qf + " (LAVIS BLIP-2)", "q_former");
  c.llama_dir = llama[0] == '/' ? llama : io::join_path(dir, llama);
  const std::string llama_cfg = io::join_path(c.llama_dir, "config.json");
  MVB_USAGE_CHECK(io::exists(llama_cfg), "XrayGPT: no ", llama_cfg, "; put the Vicuna folder (LlamaForCausalLM ",
                  "with tokenizer.model, e.g. Vicuna_Radiology_fp16) in ", dir, " or name it with \"llama_model\" in ",
                  kConfigFile);
  c.text = nn::decoder_options_from_config(read_json_file(llama_cfg), llama_cfg);

  // Blip2ImageEvalProcessor(image_size): Resize((S, S), BICUBIC) on the PIL image, ToTensor, Normalize.
  c.transform.resize_mode = "exact";
  c.transform.resize_width = c.transform.resize_height = static_cast<int>(c.vision.image_size);
  c.transform.interpolation = "bicubic";
  c.transform.crop = 0;
  return c;
}

std::optional<std::string> module_name(const std::string& n, bool eva_bare) {
  std::string rest;
  if (eva_bare) {
    rest = n;
  } else if (starts_with(n, "visual_encoder.")) {
    rest = n.substr(15);
  } else {
    if (n == "ln_vision.weight" || n == "ln_vision.bias") return "vision_model.post_layernorm." + n.substr(10);
    if (n == "query_tokens") return n;
    if (starts_with(n, "llama_proj.")) return n;
    if (starts_with(n, "llama_model.")) {
      if (ends_with(n, "rotary_emb.inv_freq")) return std::nullopt;
      return n;
    }
    const std::string qb = "Qformer.bert.";
    if (!starts_with(n, qb)) return std::nullopt;  // Qformer.cls, vision_proj, text_proj, itm_head, temp ...
    const std::string q = n.substr(qb.size());
    if (starts_with(q, "embeddings.LayerNorm.")) return "qformer.layernorm." + q.substr(21);
    if (!starts_with(q, "encoder.layer.")) return std::nullopt;  // word/position embeddings, position_ids
    const size_t dot = q.find('.', 14);
    if (dot == std::string::npos) return std::nullopt;
    std::string part = q.substr(dot + 1);
    // MiniGPT-4 removes the text FFN (layer.intermediate / layer.output = None).
    if (starts_with(part, "intermediate.") || starts_with(part, "output.")) return std::nullopt;
    for (const char* a : {"attention.self.", "crossattention.self."})
      if (starts_with(part, a))
        part = std::string(a).substr(0, std::string(a).size() - 5) + "attention." + part.substr(std::string(a).size());
    return "qformer." + q.substr(0, dot + 1) + part;
  }
  // EVA's VisionTransformer -> transformers' Blip2VisionModel names (its BLIP-2 conversion script).
  const std::string v = "vision_model.";
  if (rest == "cls_token") return v + "embeddings.class_embedding";
  if (rest == "pos_embed") return v + "embeddings.position_embedding";
  if (starts_with(rest, "patch_embed.proj.")) return v + "embeddings.patch_embedding." + rest.substr(17);
  if (!starts_with(rest, "blocks.")) return std::nullopt;  // norm / head of other EVA variants
  const size_t dot = rest.find('.', 7);
  if (dot == std::string::npos) return std::nullopt;
  const std::string layer = v + "encoder.layers." + rest.substr(7, dot - 7) + ".";
  const std::string part = rest.substr(dot + 1);
  static const std::vector<std::pair<std::string, std::string>> kParts = {
      {"norm1.", "layer_norm1."},      {"norm2.", "layer_norm2."},
      {"attn.qkv.", "self_attn.qkv."}, {"attn.proj.", "self_attn.projection."},
      {"mlp.fc1.", "mlp.fc1."},        {"mlp.fc2.", "mlp.fc2."}};
  for (const auto& [from, to] : kParts)
    if (starts_with(part, from)) return layer + to + part.substr(from.size());
  if (part == "attn.q_bias") return layer + "self_attn.q_bias";
  if (part == "attn.v_bias") return layer + "self_attn.v_bias";
  return std::nullopt;  // relative position bias / layer scale of other EVA variants: no such module here
}

// ---------------------------------------------------------------- the module tree
XrayGptNetImpl::XrayGptNetImpl(const Config& c) : cfg(c) {
  {
    // ViT and ln_vision in fp32 (vit_precision "fp32", and low_resource runs them on the CPU in
    // fp32); the Q-Former in fp32 as in BLIP-2 (the reference autocasts it to fp16 on CUDA).
    nn::DefaultDtypeGuard fp32(at::kFloat);
    vision_model = register_module("vision_model", blip::VisionModel(c.vision));
    query_tokens = register_parameter("query_tokens", at::zeros({1, c.num_query_token, c.qformer.hidden_size}));
    qformer = register_module("qformer", blip2::QFormerModel(c.qformer));
  }
  llama_proj = register_module("llama_proj", nn::Linear(c.qformer.hidden_size, c.text.hidden_size));
  llama_model = register_module("llama_model", nn::CausalLM(c.text));
}

at::Tensor XrayGptNetImpl::image_embeds(const at::Tensor& pixel_values) {
  const at::Tensor& w = vision_model->patch_embedding->weight;
  return vision_model->forward(pixel_values.to(w.device(), at::kFloat)).last_hidden_state;
}

at::Tensor XrayGptNetImpl::encode_img(const at::Tensor& pixel_values) {
  const at::Tensor q = blip2::query_features(qformer, query_tokens, image_embeds(pixel_values));
  return llama_proj->forward(q.to(llama_proj->weight.scalar_type()));
}

// ---------------------------------------------------------------- helpers
std::string prompt_text(const std::string& question) {
  return std::string(kBefore) + "<ImageHere>" + kAfterOpen + question + kAfterClose;
}

std::string clean_answer(const std::string& decoded) {
  std::string s = decoded.substr(0, decoded.find("###"));
  const size_t d = s.rfind("Doctor:");
  if (d != std::string::npos) s = s.substr(d + 7);
  return py_strip(s);
}

// ---------------------------------------------------------------- the model
XrayGptModel::XrayGptModel(const ModelSpec& spec)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), device_(spec.device), dtype_(resolve_dtype(spec)) {
  const std::string dir = resolve_checkpoint_dir(spec);
  MVB_USAGE_CHECK(io::is_directory(dir), "XrayGPT needs --model_path pointing at its checkpoint folder (",
                  "xraygpt_pretrained1.pth, eva_vit_g.pth, blip2_pretrained_flant5xxl.pth, Vicuna_Radiology_fp16/; "
                  "models/README.md); ",
                  dir, " is not a folder");
  options_.check_compat({}, "XrayGPT");
  cfg_ = Config::load(dir);
  {
    nn::DefaultDtypeGuard in_run_dtype(dtype_);  // a 7B LLaMA never exists in fp32 first
    net_ = XrayGptNet(cfg_);
  }
  std::map<std::string, at::Tensor> known;
  for (const auto& p : net_->named_parameters()) known.emplace(p.key(), p.value());

  // The reference's load order, later files overriding earlier ones (each a strict=False load).
  nn::TensorMap w;
  std::vector<std::string> sources;
  auto take = [&](const io::StateDict& sd, const std::function<std::optional<std::string>(const std::string&)>& f) {
    const nn::TensorMap m = nn::read_weights(sd, f);
    ignored_ += static_cast<int64_t>(sd.size() - m.size());  // not ours: strict=False's unexpected keys
    for (auto& [k, t] : m) w[k] = t;
    sources.push_back(sd.source());
  };
  take(io::StateDict::open(cfg_.llama_dir), [](const std::string& n) -> std::optional<std::string> {
    if (ends_with(n, "rotary_emb.inv_freq")) return std::nullopt;
    return "llama_model." + n;
  });
  take(io::StateDict::open(cfg_.eva_vit),
       [](const std::string& n) { return module_name(n, !starts_with(n, "visual_encoder.")); });
  // MiniGPT4.__init__ loads the Q-Former file before the LLaMA and llama_proj exist.
  take(io::StateDict::open(cfg_.qformer_init), [](const std::string& n) -> std::optional<std::string> {
    if (starts_with(n, "llama_")) return std::nullopt;
    return module_name(n);
  });
  io::StateDict ckpt = io::StateDict::open(cfg_.minigpt4_checkpoint);
  MVB_USAGE_CHECK(ckpt.contains("llama_proj.weight"), cfg_.minigpt4_checkpoint,
                  " has no llama_proj.weight: it is not a MiniGPT-4 / XrayGPT checkpoint (torch.save({\"model\": ",
                  "state_dict}) with llama_proj.*); use XrayGPT's xraygpt_pretrained1.pth");
  take(ckpt, [](const std::string& n) { return module_name(n); });
  weights_ = join(sources, " + ");
  blip::fuse_qkv_bias(w, weights_);
  // strict=False: what none of our modules has is ignored; what none of the files has is refused.
  for (auto it = w.begin(); it != w.end();) {
    if (known.count(it->first)) {
      ++it;
    } else {
      ++ignored_;
      it = w.erase(it);
    }
  }
  for (const auto& [name, p] : known) {
    if (w.count(name)) continue;
    const std::string from =
        starts_with(name, "llama_model.")  ? cfg_.llama_dir + " (LlamaForCausalLM weights)"
        : starts_with(name, "llama_proj.") ? cfg_.minigpt4_checkpoint + " (\"model\": llama_proj.*)"
        : starts_with(name, "vision_model.post")
            ? cfg_.qformer_init + " or " + cfg_.minigpt4_checkpoint + " (ln_vision.*)"
        : starts_with(name, "vision_model.")
            ? cfg_.eva_vit + " (EVA ViT-g: blocks.*, cls_token, pos_embed ...)"
            : cfg_.qformer_init + " or " + cfg_.minigpt4_checkpoint + " (Qformer.bert.*, query_tokens)";
    throw UsageError("XrayGPT: no weights for " + name + " in any file; it belongs in " + from);
  }
  const auto& pos = w.at("vision_model.embeddings.position_embedding");
  MVB_USAGE_CHECK(pos.size(1) == cfg_.vision.num_patches() + 1, cfg_.eva_vit, ": pos_embed has ", pos.size(1),
                  " positions but image_size ", cfg_.vision.image_size, " / patch ", cfg_.vision.patch_size, " needs ",
                  cfg_.vision.num_patches() + 1,
                  " (the reference interpolates it bicubically; that is not implemented: set image_size in ",
                  kConfigFile, " to the weights' resolution)");
  nn::assign_weights(*net_, w, weights_);
  w.clear();
  net_->to(device_);
  net_->eval();
  for (auto& p : net_->parameters()) p.set_requires_grad(false);
  backend_ = std::make_unique<nn::CausalLMBackend>(net_->llama_model);
  // LlamaTokenizer.from_pretrained(llama_model, use_fast=False).
  tokenizer_ = text::load_tokenizer(cfg_.llama_dir, text::Preference::kSlow);
  const auto& sp = tokenizer_->special_tokens();
  MVB_CHECK(sp.bos.present() && sp.eos.present(), cfg_.llama_dir,
            ": the tokenizer has no <s> / </s> (XrayGPT prepends BOS and stops at EOS)");
  bos_id_ = sp.bos.id;
  eos_id_ = sp.eos.id;
  // transformers' generate() starts from the model's generation_config (top_k 50 unless it says otherwise).
  gen_defaults_ = nn::GenerationConfig::load(cfg_.llama_dir);
}

nlohmann::json XrayGptModel::describe() const {
  int64_t params = 0;
  for (const auto& p : net_->parameters()) params += p.numel();
  nlohmann::json d = {
      {"architecture", "MiniGPT-4 (EVA ViT-g/14 " + std::to_string(cfg_.vision.image_size) + "px " +
                           std::to_string(cfg_.vision.num_hidden_layers) + "L/" +
                           std::to_string(cfg_.vision.hidden_size) + ", Q-Former " +
                           std::to_string(cfg_.num_query_token) + " queries, LLaMA " +
                           std::to_string(cfg_.text.num_layers) + "L/" + std::to_string(cfg_.text.hidden_size) + ")"},
      {"model", "XrayGPT"},
      {"parameters", params},
      {"dtype", std::string(c10::toString(dtype_))},
      {"vision_qformer_dtype", "float32"},
      {"checkpoint", cfg_.dir},
      {"weights", weights_},
      {"ignored_checkpoint_tensors", ignored_},
      {"tokenizer", tokenizer_->kind()},
      {"prompt", prompt_text("{}")},
      {"stop_strings", {"###"}},
      {"fixed_quirks",
       {"pixel tensor without its batch dimension (GENERATIVE.md 3.2): batched here",
        "prompt_wrap(img_embeds, None, prompt) raises on the None mask: the mask is not used",
        "the vendored LlamaForCausalLM has no generate() under transformers >= 4.50 (the reference pins 4.53.1): "
        "the shared generation engine runs it"}}};
  d.update(describe_generation({}));
  return d;
}

XrayGptModel::Input XrayGptModel::process(const GenerationRequest& request) {
  MVB_CHECK(request.images.size() == 1, "XrayGPT takes one image per request; this one has ", request.images.size(),
            " (the reference encodes exactly one image into the prompt)");
  Input in;
  in.pixel_values = preprocess(decode_image(request.images.front()), cfg_.transform);
  // No system turn in XrayGPT's prompt: an agent's system text goes before the question.
  const std::string q = request.system_prompt.empty() ? request.prompt : request.system_prompt + "\n" + request.prompt;
  in.prompt_text = prompt_text(q);
  auto ids = [&](const std::string& s) {
    const auto v = tokenizer_->encode(s, /*add_special_tokens=*/false);
    return std::vector<int64_t>(v.begin(), v.end());
  };
  // prompt.split('<ImageHere>'): the two chunks around the placeholder.
  in.before_ids = ids(kBefore);
  in.after_ids = ids(std::string(kAfterOpen) + q + kAfterClose);
  std::vector<int64_t> first{bos_id_};  // the BOS embedding the wrapper prepends
  first.insert(first.end(), in.before_ids.begin(), in.before_ids.end());
  in.chunks.push_back(nn::InputChunk::text(std::move(first)));
  in.chunks.push_back(nn::InputChunk::image(at::Tensor()));
  in.chunks.push_back(nn::InputChunk::text(in.after_ids));
  return in;
}

std::vector<LocalVlm::Prepared> XrayGptModel::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<Input> inputs;
  std::vector<at::Tensor> pixels;
  for (const GenerationRequest* r : requests) {
    inputs.push_back(process(*r));
    pixels.push_back(inputs.back().pixel_values);
  }
  at::Tensor feats;
  {
    at::NoGradGuard no_grad;
    feats = net_->encode_img(at::stack(pixels));  // [B, 3, S, S]: the batch dimension the reference lacks
  }
  std::vector<Prepared> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].chunks[1].embeds = feats[static_cast<int64_t>(i)];
    out.push_back(Prepared{std::move(inputs[i].chunks), std::move(inputs[i].prompt_text)});
  }
  return out;
}

at::Tensor XrayGptModel::forward_logits(const Input& input, const std::vector<int64_t>& extra) {
  at::NoGradGuard no_grad;
  const at::Tensor feats = net_->encode_img(input.pixel_values.unsqueeze(0))[0];
  std::vector<at::Tensor> parts;
  auto embed = [&](const std::vector<int64_t>& ids) {
    return net_->llama_model->model->embed(at::tensor(ids, at::kLong).to(device_).unsqueeze(0))[0];
  };
  for (const auto& c : input.chunks)
    parts.push_back(c.embeds.defined() ? c.embeds : c.token_ids.empty() ? feats : embed(c.token_ids));
  if (!extra.empty()) parts.push_back(embed(extra));
  nn::DecoderInputs in;
  in.inputs_embeds = at::cat(parts, 0).unsqueeze(0);
  return net_->llama_model->forward(in, nullptr, nn::LogitsFor::kAll)[0].to(at::kFloat);
}

nn::GenerationConfig XrayGptModel::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  g.do_sample = true;
  g.top_p = kReferenceTopP;
  g.temperature = 1.0;
  g.repetition_penalty = 1.0;
  g.eos_token_ids = {eos_id_};
  g.pad_token_id = eos_id_;
  g.bos_token_id = bos_id_;
  // The clean-up keeps only the text before the first "###": stopping there changes no answer.
  g.stop_strings = {"###"};
  g.max_new_tokens = resolve_max_new_tokens(request, kReferenceMaxNewTokens);
  if (request.temperature) {
    if (*request.temperature <= 0) {
      g.do_sample = false;  // --temperature 0: greedy
    } else {
      g.temperature = *request.temperature;
    }
  }
  return g;
}

std::string XrayGptModel::decode_answer(const std::vector<int64_t>& ids) const {
  // "the model might output a unknow token <unk> at the beginning" / "a start token <s>": dropped in
  // that order, then decode(..., add_special_tokens=False), which keeps special tokens.
  size_t b = 0;
  if (b < ids.size() && ids[b] == 0) ++b;
  if (b < ids.size() && ids[b] == 1) ++b;
  const std::vector<int32_t> rest(ids.begin() + static_cast<std::ptrdiff_t>(b), ids.end());
  return clean_answer(tokenizer_->decode(rest, /*skip_special_tokens=*/false));
}

namespace {
std::unique_ptr<Model> make_xraygpt(const ModelSpec& spec) { return std::make_unique<XrayGptModel>(spec); }
}  // namespace

}  // namespace mvb::xraygpt

namespace mvb {

MVB_REGISTER(model_registry(), "XrayGPT",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "XrayGPT (MiniGPT-4: EVA ViT-g + Q-Former + Vicuna; the project's xraygpt_pretrained1.pth with "
                        "LAVIS's eva_vit_g.pth / blip2_pretrained_flant5xxl.pth and Vicuna_Radiology_fp16/)",
                        /*needs_checkpoint=*/true,
                        xraygpt::make_xraygpt,
                        "xraygpt"});

}  // namespace mvb
