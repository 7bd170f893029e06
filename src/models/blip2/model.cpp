// Blip2ForConditionalGeneration (transformers 5.23) with OPT as the reference's model/blip2.py drives
// it; see blip2.h.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/blip2/blip2.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/vision/preprocessor.h"

namespace mvb::blip2 {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

constexpr int kReferenceMaxNewTokens = 768;  // model/blip2.py: generate(**inputs, max_new_tokens=768)

}  // namespace

Config Config::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, " must hold a JSON object");
  Config c;
  c.model_type = nn::hf::get_string(j, "model_type", "blip-2", where);
  MVB_CHECK(c.model_type == "blip-2", where, ": model_type \"", c.model_type,
            "\" is not a BLIP-2 checkpoint (expected \"blip-2\", e.g. Salesforce/blip2-opt-2.7b)");
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const auto& a : j["architectures"])
      if (a.is_string()) c.architectures.push_back(a.get<std::string>());
  c.vision = blip::VisionConfig::blip2(j.contains("vision_config") ? j["vision_config"] : nlohmann::json::object(),
                                       where + " (vision_config)");
  c.qformer = QFormerConfig::from_json(j.contains("qformer_config") ? j["qformer_config"] : nlohmann::json::object(),
                                       where + " (qformer_config)");
  // Blip2Config sets the Q-Former's encoder width to the vision tower's.
  c.qformer.encoder_hidden_size = c.vision.hidden_size;
  if (j.contains("text_config") && j["text_config"].is_object()) c.text_config = j["text_config"];
  c.num_query_tokens = nn::hf::get_int(j, "num_query_tokens", 32, where);
  MVB_CHECK(c.num_query_tokens > 0, where, ": num_query_tokens must be positive");
  if (nn::hf::has(j, "image_token_index")) c.image_token_index = nn::hf::get_int(j, "image_token_index", -1, where);
  if (nn::hf::has(j, "image_token_id") && c.image_token_index < 0)
    c.image_token_index = nn::hf::get_int(j, "image_token_id", -1, where);
  c.image_text_hidden_size = nn::hf::get_int(j, "image_text_hidden_size", 256, where);
  return c;
}

Config Config::load(const std::string& model_dir) {
  const std::string path = io::join_path(model_dir, "config.json");
  return from_json(read_json_file(path), path);
}

ProcessorConfig load_processor_config(const std::string& dir) {
  ProcessorConfig p;
  const std::string pre = io::join_path(dir, "preprocessor_config.json");
  const std::string proc = io::join_path(dir, "processor_config.json");
  nlohmann::json pj;
  if (io::exists(proc)) pj = read_json_file(proc);
  if (io::exists(pre)) {
    p.transform = load_image_transform(pre);
  } else {
    MVB_CHECK(pj.is_object() && pj.contains("image_processor"), dir,
              " has neither preprocessor_config.json nor an \"image_processor\" in processor_config.json; "
              "BLIP-2 needs the checkpoint's image processor settings (copy them from the published folder)");
    p.transform = image_transform_from_json(pj["image_processor"], proc + " (image_processor)");
  }
  if (pj.is_object() && pj.contains("num_query_tokens") && !pj["num_query_tokens"].is_null())
    p.num_query_tokens = nn::hf::get_int(pj, "num_query_tokens", -1, proc);
  return p;
}

at::Tensor query_features(QFormerModel& qformer, const at::Tensor& query_tokens, const at::Tensor& image_embeds) {
  const int64_t b = image_embeds.size(0);
  at::Tensor q = query_tokens.expand({b, query_tokens.size(1), query_tokens.size(2)});
  return qformer->forward(q, {}, image_embeds, q.size(1));
}

Blip2NetImpl::Blip2NetImpl(const Config& c, const NetParts& p) : cfg(c), parts(p) {
  vision_model = register_module("vision_model", blip::VisionModel(c.vision));
  {
    // Float32 whatever the run's dtype: transformers keeps the Q-Former and its inputs in fp32.
    nn::DefaultDtypeGuard fp32(at::kFloat);
    query_tokens = register_parameter("query_tokens", at::zeros({1, c.num_query_tokens, c.qformer.hidden_size}));
    qformer = register_module("qformer", QFormerModel(c.qformer));
    if (p.retrieval) embeddings = register_module("embeddings", QFormerTextEmbeddings(c.qformer));
  }
  if (p.language_model) {
    MVB_CHECK(!c.text_config.is_null(), "config.json has no text_config: this BLIP-2 checkpoint has no language model");
    const opt::OptConfig t = opt::OptConfig::from_json(c.text_config, "config.json (text_config)");
    language_projection = register_module("language_projection", nn::Linear(c.qformer.hidden_size, t.hidden_size));
    language_model = register_module("language_model", opt::OptForCausalLM(t));
  }
  if (p.retrieval) {
    vision_projection =
        register_module("vision_projection", nn::Linear(c.qformer.hidden_size, c.image_text_hidden_size));
    text_projection = register_module("text_projection", nn::Linear(c.qformer.hidden_size, c.image_text_hidden_size));
    itm_head = register_module("itm_head", nn::Linear(c.qformer.hidden_size, 2));
  }
}

void Blip2NetImpl::place(c10::Device device, at::ScalarType dtype) {
  for (auto& kv : named_children()) {
    const bool fp32 = kv.key() == "qformer" || kv.key() == "embeddings";
    kv.value()->to(device, fp32 ? at::kFloat : dtype);
  }
  query_tokens.set_data(query_tokens.to(device, at::kFloat));
}

at::Tensor Blip2NetImpl::image_embeds(const at::Tensor& pixel_values) {
  const at::Tensor& w = vision_model->patch_embedding->weight;
  return vision_model->forward(pixel_values.to(w.device(), w.scalar_type())).last_hidden_state;
}

at::Tensor Blip2NetImpl::language_inputs(const at::Tensor& pixel_values) {
  MVB_CHECK(parts.language_model, "this BLIP-2 was built without its language model");
  const at::Tensor img = image_embeds(pixel_values);
  // The Q-Former runs in float32; its output goes back to the vision tower's dtype (transformers).
  const at::Tensor q = query_features(qformer, query_tokens, img).to(img.scalar_type());
  return language_projection->forward(q.to(language_projection->weight.scalar_type()));
}

Blip2Net load_net(const std::string& dir, const Config& cfg, const NetParts& parts, c10::Device device,
                  at::ScalarType dtype) {
  Blip2Net net{nullptr};
  {
    nn::DefaultDtypeGuard in_run_dtype(dtype);  // a 3.8B model never exists in fp32 first
    net = Blip2Net(cfg, parts);
  }
  const bool tied =
      parts.language_model && opt::OptConfig::from_json(cfg.text_config, "config.json").tie_word_embeddings;
  io::StateDict sd = io::StateDict::open(dir);
  nn::TensorMap w = nn::read_weights(sd, [&](const std::string& n) -> std::optional<std::string> {
    if (ends_with(n, "position_ids")) return std::nullopt;  // buffers older transformers saved
    if (starts_with(n, "language_model.") || starts_with(n, "language_projection.")) {
      if (!parts.language_model) return std::nullopt;
      if (tied && n == "language_model.lm_head.weight") return std::nullopt;  // 4.x saved the tied head too
      return n;
    }
    if (starts_with(n, "embeddings.") || starts_with(n, "vision_projection.") || starts_with(n, "text_projection.") ||
        starts_with(n, "itm_head."))
      return parts.retrieval ? std::optional<std::string>(n) : std::nullopt;
    // The text FFN of the Q-Former, saved by transformers 4.x even where use_qformer_text_input is off
    // (transformers ignores it then).
    if (starts_with(n, "qformer.encoder.layer.") && !cfg.qformer.use_qformer_text_input) {
      const size_t dot = n.find('.', std::string("qformer.encoder.layer.").size());  // after the layer index
      const std::string part = dot == std::string::npos ? "" : n.substr(dot + 1);
      if (starts_with(part, "intermediate.") || starts_with(part, "output.")) return std::nullopt;
    }
    return n;
  });
  blip::fuse_qkv_bias(w, sd.source());  // 4.x / LAVIS: self_attn.q_bias + v_bias
  nn::assign_weights(*net, w, sd.source());
  net->place(device, dtype);
  net->eval();
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  return net;
}

std::string vqa_prompt(const std::string& question) { return "Question: " + question + " Answer:"; }

Blip2Model::Blip2Model(const ModelSpec& spec)
    : LocalVlm(LocalVlmOptions::from_spec(spec)), dir_(spec.model_path), device_(spec.device) {
  MVB_USAGE_CHECK(io::is_directory(dir_), "BLIP2-2.7b needs --model_path pointing at its checkpoint folder (",
                  "Salesforce/blip2-opt-2.7b); ", dir_, " is not a folder");
  cfg_ = Config::load(dir_);
  // Blip2Config always writes a text_config, so the weights tell: an image-text retrieval checkpoint
  // (blip2-itm-vit-g) has no language model.
  MVB_USAGE_CHECK(!cfg_.text_config.is_null() && io::StateDict::open(dir_).contains("language_projection.weight"), dir_,
                  " is not a Blip2ForConditionalGeneration checkpoint (no language_projection / language model); an "
                  "image-text retrieval one such as Salesforce/blip2-itm-vit-g serves --task diagnosis only");
  dtype_ = resolve_dtype(spec);
  options_.check_compat({kPromptEchoQuirk}, "BLIP2-2.7b");
  proc_ = load_processor_config(dir_);
  MVB_CHECK(transform_output_size(proc_.transform) == cfg_.vision.image_size, "the image processor of ", dir_,
            " gives ", transform_output_size(proc_.transform), " px images but vision_config.image_size is ",
            cfg_.vision.image_size);
  if (proc_.num_query_tokens > 0)
    MVB_CHECK(proc_.num_query_tokens == cfg_.num_query_tokens, io::join_path(dir_, "processor_config.json"),
              ": num_query_tokens ", proc_.num_query_tokens, " differs from config.json's ", cfg_.num_query_tokens);
  net_ = load_net(dir_, cfg_, NetParts{true, false}, device_, dtype_);
  backend_ = std::make_unique<opt::OptBackend>(net_->language_model);
  tokenizer_ = text::load_tokenizer(dir_);
  if (cfg_.image_token_index >= 0) {
    image_token_id_ = cfg_.image_token_index;
  } else {
    // Old configs: no image_token_index; the processor's "<image>" is still what the reference's
    // transformers 4.53 would not insert, so the queries go before the text without placeholders.
    image_token_id_ = -1;
  }
  gen_defaults_ = nn::GenerationConfig::load(dir_);
  const opt::OptConfig t = net_->language_model->cfg;
  // A checkpoint without generation_config.json: transformers derives it from text_config.
  if (gen_defaults_.eos_token_ids.empty()) gen_defaults_.eos_token_ids = t.eos_token_ids;
  if (gen_defaults_.pad_token_id < 0) gen_defaults_.pad_token_id = t.pad_token_id;
  if (gen_defaults_.bos_token_id < 0) gen_defaults_.bos_token_id = t.bos_token_id;
}

nlohmann::json Blip2Model::describe() const {
  int64_t params = 0;
  for (const auto& p : net_->parameters()) params += p.numel();
  nlohmann::json d = {{"architecture", "Blip2ForConditionalGeneration (OPT)"},
                      {"model", "BLIP2-2.7b"},
                      {"parameters", params},
                      {"dtype", std::string(c10::toString(dtype_))},
                      {"qformer_dtype", "float32"},
                      {"checkpoint", dir_},
                      {"num_query_tokens", cfg_.num_query_tokens},
                      {"prompt", vqa_prompt("{}")},
                      {"default_max_new_tokens", kReferenceMaxNewTokens}};
  d.update(describe_generation({kPromptEchoQuirk}));
  return d;
}

Blip2Model::Input Blip2Model::process(const GenerationRequest& request) {
  Input in;
  MVB_CHECK(request.images.size() == 1, "BLIP2-2.7b takes one image per request; this one has ", request.images.size(),
            " (the reference's processor pairs one image with the prompt)");
  in.pixel_values = preprocess(decode_image(request.images.front()), proc_.transform);
  // No system turn in BLIP-2's prompt: an agent's system text goes before the question.
  const std::string q = request.system_prompt.empty() ? request.prompt : request.system_prompt + "\n" + request.prompt;
  in.prompt_text = vqa_prompt(q);
  const auto ids32 = tokenizer_->encode(in.prompt_text, /*add_special_tokens=*/true);
  std::vector<int64_t> text(ids32.begin(), ids32.end());
  const int64_t nq = cfg_.num_query_tokens;
  std::vector<int64_t> placeholders;
  if (image_token_id_ >= 0) placeholders.assign(static_cast<size_t>(nq), image_token_id_);
  in.input_ids = placeholders;
  in.input_ids.insert(in.input_ids.end(), text.begin(), text.end());
  in.chunks.push_back(nn::InputChunk::image(at::Tensor(), placeholders));
  in.chunks.push_back(nn::InputChunk::text(std::move(text)));
  return in;
}

std::vector<LocalVlm::Prepared> Blip2Model::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<Input> inputs;
  std::vector<at::Tensor> pixels;
  for (const GenerationRequest* r : requests) {
    inputs.push_back(process(*r));
    pixels.push_back(inputs.back().pixel_values);
  }
  at::Tensor feats;
  {
    at::NoGradGuard no_grad;
    feats = net_->language_inputs(at::stack(pixels));  // one vision + Q-Former pass for the batch
  }
  std::vector<Prepared> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].chunks.front().embeds = feats[static_cast<int64_t>(i)];
    Prepared p{std::move(inputs[i].chunks), std::move(inputs[i].prompt_text)};
    if (options_.compat(kPromptEchoQuirk)) p.echo_ids = inputs[i].input_ids;
    out.push_back(std::move(p));
  }
  return out;
}

at::Tensor Blip2Model::forward_logits(const Input& input) {
  at::NoGradGuard no_grad;
  const at::Tensor feats = net_->language_inputs(input.pixel_values.unsqueeze(0))[0];
  std::vector<at::Tensor> parts;
  for (const auto& c : input.chunks) {
    if (!c.token_ids.empty()) {
      parts.push_back(net_->language_model->embed(at::tensor(c.token_ids, at::kLong).to(device_)));
    } else {
      parts.push_back(feats.to(dtype_));
    }
  }
  nn::DecoderInputs in;
  in.inputs_embeds = at::cat(parts, 0).unsqueeze(0);
  return net_->language_model->forward(in, nullptr, nn::LogitsFor::kAll)[0];
}

nn::GenerationConfig Blip2Model::generation_config(const GenerationRequest& request) const {
  nn::GenerationConfig g = gen_defaults_;
  g.max_new_tokens = resolve_max_new_tokens(request, kReferenceMaxNewTokens);
  if (request.temperature) {
    if (*request.temperature <= 0) {
      g.do_sample = false;
    } else {
      g.do_sample = true;
      g.temperature = *request.temperature;
    }
  }
  return g;
}

namespace {
// One name, two reference models: the generative OPT model for vqa / caption, the retrieval model's
// features and ITC head for diagnosis (ModelEntry::per_task gives each task its family and checkpoint).
std::unique_ptr<Model> make_blip2(const ModelSpec& spec) {
  if (spec.task == "diagnosis") return make_diagnosis_model(spec);
  return std::make_unique<Blip2Model>(spec);
}
}  // namespace

}  // namespace mvb::blip2

namespace mvb {

MVB_REGISTER(model_registry(), "BLIP2-2.7b",
             ModelEntry{"generative",
                        {"vqa", "caption", "diagnosis"},
                        "BLIP-2 with OPT-2.7b (HF Blip2ForConditionalGeneration, Salesforce/blip2-opt-2.7b); for "
                        "diagnosis the reference's Blip2ForImageTextRetrieval (Salesforce/blip2-itm-vit-g)",
                        /*needs_checkpoint=*/true,
                        blip2::make_blip2,
                        "Salesforce/blip2-opt-2.7b",
                        {{"diagnosis", TaskOverride{"contrastive", "Salesforce/blip2-itm-vit-g"}}}});

}  // namespace mvb
