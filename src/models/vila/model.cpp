// VILA1.5 / VILA-M3 (see include/medvlmbench/models/vila/model.h). Semantics follow the reference's
// model/vila.py and its vendored VILA code (model/release/vila: llava_arch.py generate_content / _embed /
// default_generation_config, utils/tokenizer.py tokenize_conversation / infer_stop_tokens,
// utils/media.py extract_media, mm_utils.py process_image, encoders/image/basic.py).
#include "medvlmbench/models/vila/model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <set>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/peft_adapter.h"
#include "medvlmbench/nn/default_dtype.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/vision/preprocessor.h"
#include "medvlmbench/vision/resample.h"

namespace mvb::vila {
namespace {

constexpr const char* kImageToken = "<image>";        // MEDIA_TOKENS["image"]
constexpr const char* kVideoToken = "<vila/video>";   // MEDIA_TOKENS["video"]
constexpr const char* kSentinel = "<vila/sentinel>";  // SENTINEL_TOKEN
// What the reference hard-codes as the base of every VILA1.5 / VILA-M3 LoRA run.
constexpr const char* kReferenceLoraBase = "Efficient-Large-Model/Llama-3-VILA1.5-8B";

// meta-llama/Meta-Llama-3-8B-Instruct's chat template (the Llama-3 VILA checkpoints' llm tokenizer).
constexpr const char* kLlama3Template =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

// Templates compare without whitespace: re-saved configs differ in line breaks and indentation only.
std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// Python's str.strip() / Jinja's trim for ASCII whitespace.
std::string py_strip(const std::string& s) { return trim(s); }

std::string render(const std::string& template_text, const std::vector<ChatMessage>& messages, const std::string& bos,
                   bool add_generation_prompt, const std::string& where) {
  MVB_CHECK(!template_text.empty(), where,
            ": the llm tokenizer has no chat_template; the reference's tokenize_conversation calls "
            "apply_chat_template, which needs one (Llama-3 VILA checkpoints ship Meta-Llama-3-Instruct's)");
  MVB_CHECK(squeeze(template_text) == squeeze(kLlama3Template), where,
            ": this chat_template is not one we render (implemented: Meta-Llama-3-Instruct's, which the "
            "Llama-3 VILA1.5 / VILA-M3 tokenizers carry); it begins '",
            template_text.substr(0, 80), "'");
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string content = "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
                          py_strip(messages[i].content) + "<|eot_id|>";
    if (i == 0) content = bos + content;
    out += content;
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// extract_media on the question: media token strings are removed (and the part stripped when one was).
std::string clean_question(std::string q) {
  for (const char* t : {kImageToken, kVideoToken})
    if (q.find(t) != std::string::npos) q = py_strip(replace_all(q, t, ""));
  return q;
}

std::vector<int64_t> to64(const std::vector<int32_t>& v) { return std::vector<int64_t>(v.begin(), v.end()); }

// "4.53.1" >= 4.50 (base version, as packaging.version compares it here).
bool version_at_least_4_50(const std::string& v) {
  const auto parts = split(v, '.');
  if (parts.size() < 2) return false;
  try {
    const int major = std::stoi(parts[0]), minor = std::stoi(parts[1]);
    return major > 4 || (major == 4 && minor >= 50);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string render_chat_template(const std::string& template_text, const std::vector<ChatMessage>& messages,
                                 const std::string& bos_token, const std::string& where) {
  return render(template_text, messages, bos_token, true, where);
}

VilaModel::VilaModel(const ModelSpec& spec, Variant variant)
    : LocalVlm(LocalVlmOptions::from_spec(spec)),
      variant_(variant),
      dir_(resolve_checkpoint_dir(spec)),
      device_(spec.device),
      dtype_(resolve_dtype(spec)) {
  const std::string name = variant == Variant::kVila15 ? "VILA1.5" : "VILA-M3";
  options_.check_compat(known_quirks(), name);
  // --model_path ADAPTER --model_base BASE: the reference's LoRA branch, with the base named here (it
  // hard-codes Efficient-Large-Model/Llama-3-VILA1.5-8B for VILA1.5 and VILA-M3 adapters alike).
  if (is_peft_adapter_dir(dir_)) {
    MVB_USAGE_CHECK(!spec.model_base.empty(), dir_,
                    " is a LoRA adapter (adapter_config.json); give the VILA checkpoint it was trained on with "
                    "--model_base (the reference always merged onto ",
                    kReferenceLoraBase, ")");
    MVB_USAGE_CHECK(io::is_directory(spec.model_base), "--model_base ", spec.model_base, " is not a folder");
    adapter_dir_ = dir_;
    dir_ = spec.model_base;
  }
  cfg_ = load_config(dir_);
  const std::string where = io::join_path(dir_, "config.json");
  MVB_CHECK(cfg_.llm_model_type == "llama", where, ": ", name, " is a Llama-3 VILA; this llm is ", cfg_.llm_model_type,
            " (NVILA checkpoints load with --model_name NVILA)");
  MVB_CHECK(cfg_.image_aspect_ratio == "resize" && !cfg_.dynamic_s2, where, ": image_aspect_ratio '",
            cfg_.image_aspect_ratio, "' / dynamic_s2 belong to NVILA; ", name, " uses \"resize\"");
  MVB_CHECK(cfg_.chat_template.empty(), where, ": chat_template '", cfg_.chat_template,
            "' names one of the reference's chat_templates/*.jinja, which ", name,
            " does not render (VILA1.5 / VILA-M3 use the llm tokenizer's own template)");

  tokenizer_ = text::load_tokenizer(cfg_.layout.tokenizer_dir, text::Preference::kFast);
  const std::string tok_where = io::join_path(cfg_.layout.tokenizer_dir, "tokenizer_config.json");
  template_ = tokenizer_->config().chat_template;
  const auto& special = tokenizer_->special_tokens();
  MVB_CHECK(special.eos.present(), tok_where, ": the tokenizer has no eos token (default_generation_config needs one)");
  // len(tokenizer) once build_llm_and_tokenizer added <vila/sentinel>, <image>, <vila/video>; vila.py then
  // resizes the embeddings to it. A smaller vocabulary keeps the first rows; a larger one adds rows
  // scoring the mean logit, which greedy decoding never picks (left out here).
  int64_t tokenizer_length = tokenizer_->vocab_size();
  for (const char* t : {kSentinel, kImageToken, kVideoToken})
    if (!tokenizer_->token_to_id(t)) ++tokenizer_length;
  if (tokenizer_length < cfg_.text.vocab_size) cfg_.text.vocab_size = tokenizer_length;

  {
    nn::DefaultDtypeGuard in_run_dtype(dtype_);  // an 8B model never exists in fp32 first
    net_ = VilaNet(cfg_);
  }
  source_ = load_weights(*net_);
  if (!adapter_dir_.empty()) {
    // non_lora_trainables.bin (the tuned projector, "M" being mandatory in the reference's training).
    const std::string path = io::join_path(adapter_dir_, "non_lora_trainables.bin");
    if (io::exists(path)) {
      std::map<std::string, at::Tensor> published;  // the reference's LlavaLlamaModel parameter names
      for (auto& p : net_->named_parameters(true)) {
        const auto dot = p.key().rfind('.');
        if (auto m = published_module_name(p.key().substr(0, dot)))
          published.emplace(*m + p.key().substr(dot), p.value());
      }
      io::StateDict sd = io::StateDict::open(path);
      const bool reference_keys = options_.compat("vila_ignore_non_lora_trainables");
      std::vector<std::string> keys = sd.names();
      // The reference: strip "base_model.", then "model." only when some key starts "model.model.".
      bool model_model = false;
      for (auto& k : keys)
        if (k.rfind("base_model.", 0) == 0 && k.substr(11).rfind("model.model.", 0) == 0) model_model = true;
      at::NoGradGuard no_grad;
      for (const auto& key : keys) {
        std::string k = key;
        if (reference_keys) {
          if (k.rfind("base_model.", 0) == 0) k = k.substr(11);
          if (model_model && k.rfind("model.", 0) == 0) k = k.substr(6);
        } else {
          // What PEFT named them: base_model.model.<LlavaLlamaModel parameter>.
          for (const char* p : {"base_model.model.", "base_model."})
            if (k.rfind(p, 0) == 0) {
              k = k.substr(std::string(p).size());
              break;
            }
        }
        auto it = published.find(k);
        if (it == published.end()) {
          // load_state_dict(strict=False) skips what matches nothing; the intended load refuses it.
          MVB_CHECK(reference_keys, path, ": ", key, " names no parameter of this model");
          ignored_non_lora_.push_back(key);
          continue;
        }
        const at::Tensor v = sd.get(key);
        MVB_CHECK(v.sizes() == it->second.sizes(), path, ": ", key, " has shape ", v.sizes(), ", expected ",
                  it->second.sizes());
        it->second.copy_(v);
        ++loaded_non_lora_;
      }
    }
    merged_lora_ = merge_peft_adapter(*net_, adapter_dir_, published_module_name);
    source_ += " + LoRA " + adapter_dir_ + " (" + std::to_string(merged_lora_) + " modules merged, " +
               std::to_string(loaded_non_lora_) + " non-LoRA tensors loaded)";
  }
  net_->to(device_, dtype_);
  net_->eval();
  backend_ = std::make_unique<nn::CausalLMBackend>(net_->llm);

  // infer_stop_tokens: eos, plus the token after the assistant's content in the template.
  stop_ids_ = {special.eos.id};
  {
    std::vector<ChatMessage> dummy = {{"user", "question"}, {"assistant", kSentinel}};
    const std::string t = render(template_, dummy, special.bos.content, false, tok_where);
    const size_t at = t.find(kSentinel);
    const auto after = tokenizer_->encode(t.substr(at + std::string(kSentinel).size()), false);
    if (!after.empty() && std::find(stop_ids_.begin(), stop_ids_.end(), after[0]) == stop_ids_.end())
      stop_ids_.push_back(after[0]);
  }
  if (cfg_.image_encoder.start_tokens) start_ids_ = to64(tokenizer_->encode(*cfg_.image_encoder.start_tokens, true));
  if (cfg_.image_encoder.end_tokens) end_ids_ = to64(tokenizer_->encode(*cfg_.image_encoder.end_tokens, true));
  const int64_t grid = cfg_.vision_grid();
  MVB_CHECK(!cfg_.drop_first_token, where,
            ": mm_vision_select_feature \"patch\" drops a SigLIP token, leaving no square grid for mlp_downsample");
  image_tokens_ = ((grid + 1) / 2) * ((grid + 1) / 2);
  model_max_length_ = tokenizer_->config().model_max_length;
  // A tokenizer without model_max_length ("very large") would let generate() run to the end of the
  // decoder's position table: that is the limit then.
  if (model_max_length_ > (int64_t{1} << 40)) {
    const std::string lpath = io::join_path(cfg_.layout.llm_dir, "config.json");
    model_max_length_ = nn::hf::get_int(read_json_file(lpath), "max_position_embeddings", 2048, lpath);
  }

  // generate()'s fallback (transformers >= 4.50): values of the passed config still at the library
  // defaults take the llm's generation_config.json values, when that file was written by >= 4.50.
  const std::string gpath = io::join_path(cfg_.layout.llm_dir, "generation_config.json");
  if (io::exists(gpath)) {
    const nlohmann::json g = read_json_file(gpath);
    if (version_at_least_4_50(g.value("transformers_version", std::string()))) {
      llm_defaults_ = nn::GenerationConfig::from_json(g, gpath);
      const nn::GenerationConfig lib;
      if (g.contains("do_sample") && llm_defaults_.do_sample != lib.do_sample) llm_default_keys_.push_back("do_sample");
      if (g.contains("temperature") && llm_defaults_.temperature != lib.temperature)
        llm_default_keys_.push_back("temperature");
      if (g.contains("top_k") && llm_defaults_.top_k != lib.top_k) llm_default_keys_.push_back("top_k");
      if (g.contains("top_p") && llm_defaults_.top_p != lib.top_p) llm_default_keys_.push_back("top_p");
      if (g.contains("repetition_penalty") && llm_defaults_.repetition_penalty != lib.repetition_penalty)
        llm_default_keys_.push_back("repetition_penalty");
      if (g.contains("max_new_tokens") && !g["max_new_tokens"].is_null()) llm_default_keys_.push_back("max_new_tokens");
      MVB_CHECK(nn::hf::get_int(g, "num_beams", 1, gpath) == 1, gpath,
                ": num_beams > 1 (beam search) is not supported");
    }
  }
}

std::string VilaModel::render_prompt(const GenerationRequest& r) const {
  MVB_CHECK(r.images.size() <= 1,
            "VILA1.5 / VILA-M3 take one image per prompt (the reference's "
            "infer_vision_language passes one); this request has ",
            r.images.size());
  std::string value;
  for (size_t i = 0; i < r.images.size(); ++i) value += kImageToken;
  value = py_strip(value + clean_question(r.prompt));  // tokenize_conversation strips each value
  std::vector<ChatMessage> messages;
  if (!r.system_prompt.empty()) messages.push_back({"system", r.system_prompt});
  messages.push_back({"user", value});
  return render(template_, messages, tokenizer_->special_tokens().bos.content, true,
                io::join_path(cfg_.layout.tokenizer_dir, "tokenizer_config.json"));
}

std::vector<int64_t> VilaModel::tokenize(const std::string& text) const {
  // <image> is an added special token of the reference's tokenizer: the text is split around it and each
  // piece tokenized alone; the post-processor's special tokens go around the whole.
  std::vector<int64_t> ids;
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(kImageToken, pos);
    const std::string piece = text.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos);
    if (!piece.empty()) {
      auto p = tokenizer_->encode(piece, false);
      ids.insert(ids.end(), p.begin(), p.end());
    }
    if (hit == std::string::npos) break;
    ids.push_back(kMediaToken);
    pos = hit + std::string(kImageToken).size();
  }
  // add_special_tokens around ids that hold the media marker: the markers stand in as a plain id.
  std::vector<int32_t> plain;
  std::vector<size_t> media_at;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kMediaToken) media_at.push_back(i);
    plain.push_back(ids[i] == kMediaToken ? 0 : static_cast<int32_t>(ids[i]));
  }
  const auto with_special = tokenizer_->add_special_tokens(plain);
  // The post-processor only adds tokens around the sequence: find the offset of the original ids.
  const size_t prefix = [&] {
    for (size_t off = 0; off + plain.size() <= with_special.size(); ++off)
      if (std::equal(plain.begin(), plain.end(), with_special.begin() + static_cast<std::ptrdiff_t>(off))) return off;
    throw Error("the tokenizer's post-processor changed the prompt's ids");
  }();
  std::vector<int64_t> out = to64(with_special);
  for (size_t i : media_at) out[prefix + i] = kMediaToken;
  return out;
}

at::Tensor VilaModel::process_image(const RgbImage& img) const {
  // process_image with image_aspect_ratio "resize": image.resize((size.width, size.height)) (PIL's default
  // bicubic), then SiglipImageProcessor (its own resize to the same size is a copy).
  const int w = cfg_.image_transform.resize_width > 0 ? cfg_.image_transform.resize_width : cfg_.vision.image_size;
  const int h = cfg_.image_transform.resize_height > 0 ? cfg_.image_transform.resize_height : cfg_.vision.image_size;
  return preprocess(pil_resize(img, w, h, Resample::kBicubic), cfg_.image_transform);
}

int64_t VilaModel::image_positions() const {
  return static_cast<int64_t>(start_ids_.size()) + image_tokens_ + static_cast<int64_t>(end_ids_.size());
}

std::vector<LocalVlm::Prepared> VilaModel::prepare(const std::vector<const GenerationRequest*>& requests) {
  std::vector<Prepared> out;
  std::vector<std::vector<int64_t>> ids;
  std::vector<at::Tensor> pixels;
  for (const GenerationRequest* r : requests) {
    Prepared p;
    p.prompt_text = render_prompt(*r);
    ids.push_back(tokenize(p.prompt_text));
    for (const ImageRef& ref : r->images) pixels.push_back(process_image(decode_image(ref)));
    out.push_back(std::move(p));
  }
  at::Tensor features;
  if (!pixels.empty()) {
    c10::InferenceMode guard;
    features = net_->encode_images(at::stack(pixels).to(device_, dtype_));  // [N, tokens, hidden]
  }
  int64_t next = 0;
  for (size_t r = 0; r < requests.size(); ++r) {
    nn::MultimodalInput input;
    std::vector<int64_t> text;
    auto flush = [&] {
      if (!text.empty()) input.push_back(nn::InputChunk::text(std::move(text)));
      text.clear();
    };
    const int64_t first = next;
    for (int64_t id : ids[r]) {
      if (id != kMediaToken) {
        text.push_back(id);
        continue;
      }
      MVB_CHECK(next - first < static_cast<int64_t>(requests[r]->images.size()),
                "the prompt holds more <image> tokens than the request has images");
      // BasicImageEncoder: start tokens, the projected features, end tokens ("\n" with its BOS).
      text.insert(text.end(), start_ids_.begin(), start_ids_.end());
      flush();
      input.push_back(nn::InputChunk::image(features[next++]));
      text.insert(text.end(), end_ids_.begin(), end_ids_.end());
    }
    flush();
    MVB_CHECK(next - first == static_cast<int64_t>(requests[r]->images.size()),
              "not all image embeddings are consumed (the reference raises the same)");
    out[r].input = std::move(input);
  }
  return out;
}

nn::GenerationConfig VilaModel::generation_config(const GenerationRequest& request) const {
  // default_generation_config: GenerationConfig() (config.json's generation keys never reach it:
  // LlavaConfig drops them), max_length = tokenizer.model_max_length, pad = pad or eos, eos = stop ids.
  nn::GenerationConfig g;
  g.do_sample = false;
  g.eos_token_ids = stop_ids_;
  const auto& special = tokenizer_->special_tokens();
  g.pad_token_id = special.pad.present() ? special.pad.id : special.eos.id;
  g.bos_token_id = special.bos.present() ? special.bos.id : special.eos.id;
  const int64_t positions = static_cast<int64_t>(tokenize(render_prompt(request)).size()) -
                            static_cast<int64_t>(request.images.size()) +
                            static_cast<int64_t>(request.images.size()) * image_positions();
  // generate() from inputs_embeds: max_length counts the prompt's positions.
  const int64_t limit = model_max_length_;
  g.max_new_tokens = limit - positions;
  MVB_CHECK(g.max_new_tokens > 0, "the prompt takes ", positions,
            " positions, which leaves nothing of the tokenizer's ", "model_max_length ", limit, " to generate");
  for (const auto& k : llm_default_keys_) {
    if (k == "do_sample") g.do_sample = llm_defaults_.do_sample;
    if (k == "temperature") g.temperature = llm_defaults_.temperature;
    if (k == "top_k") g.top_k = llm_defaults_.top_k;
    if (k == "top_p") g.top_p = llm_defaults_.top_p;
    if (k == "repetition_penalty") g.repetition_penalty = llm_defaults_.repetition_penalty;
    if (k == "max_new_tokens") g.max_new_tokens = llm_defaults_.max_new_tokens;
  }
  if (options_.max_new_tokens > 0) g.max_new_tokens = options_.max_new_tokens;
  if (request.max_new_tokens) g.max_new_tokens = *request.max_new_tokens;
  if (request.temperature) {
    g.do_sample = *request.temperature > 0;
    if (g.do_sample) g.temperature = *request.temperature;
  }
  return g;
}

nlohmann::json VilaModel::describe() const {
  int64_t params = 0;
  for (const auto& p : net_->parameters()) params += p.numel();
  nlohmann::json d = {
      {"architecture", std::string(variant_ == Variant::kVila15 ? "VILA1.5" : "VILA-M3") +
                           " (LlavaLlamaModel: SigLIP " + std::to_string(cfg_.vision.image_size) + "px/" +
                           std::to_string(cfg_.vision.patch_size) + ", " + cfg_.projector_type + ", Llama " +
                           std::to_string(cfg_.text.num_layers) + "L/" + std::to_string(cfg_.text.hidden_size) + ")"},
      {"parameters", params},
      {"dtype", std::string(c10::toString(dtype_))},
      {"checkpoint", dir_},
      {"weights", source_},
      {"tokenizer", tokenizer_->kind()},
      {"image_tokens", image_tokens_},
      {"image_end_token_ids", end_ids_},
      {"stop_token_ids", stop_ids_},
      {"prompt", "the llm tokenizer's chat template over one user turn \"<image>\" + question"},
      {"max_length", model_max_length_},
      {"variant", "the registry name (the reference picks it by a substring of --model_path)"}};
  if (!llm_default_keys_.empty()) d["generation_defaults_from_llm"] = llm_default_keys_;
  if (!adapter_dir_.empty()) {
    d["lora_adapter"] = adapter_dir_;
    d["lora_base"] = std::string(dir_) + " (the reference hard-codes " + kReferenceLoraBase + ")";
    d["non_lora_trainables"] =
        options_.compat("vila_ignore_non_lora_trainables")
            ? "as the reference loads them (reference_compat vila_ignore_non_lora_trainables): " +
                  std::to_string(ignored_non_lora_.size()) + " tensors match no parameter and are skipped"
            : std::to_string(loaded_non_lora_) + " tensors loaded (the tuned projector)";
  }
  d.update(describe_generation(known_quirks()));
  return d;
}

namespace {
std::unique_ptr<Model> make_vila15(const ModelSpec& s) {
  return std::make_unique<VilaModel>(s, VilaModel::Variant::kVila15);
}
std::unique_ptr<Model> make_vila_m3(const ModelSpec& s) {
  return std::make_unique<VilaModel>(s, VilaModel::Variant::kVilaM3);
}
}  // namespace

MVB_REGISTER(model_registry(), "VILA1.5",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "VILA1.5 (Efficient-Large-Model/Llama-3-VILA1.5-8B layout: llm/, vision_tower/, "
                        "mm_projector/): SigLIP + mlp_downsample + Llama-3, the tokenizer's chat template, greedy",
                        true,
                        make_vila15,
                        "Efficient-Large-Model/Llama-3-VILA1.5-8B"});
MVB_REGISTER(model_registry(), "VILA-M3",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "VILA-M3 (MONAI/Llama3-VILA-M3-8B, the VILA1.5 architecture and layout)",
                        true,
                        make_vila_m3,
                        "MONAI/Llama3-VILA-M3-8B"});

}  // namespace mvb::vila
