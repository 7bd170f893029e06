// The VILA checkpoint folder as published (Efficient-Large-Model/Llama-3-VILA1.5-8B, MONAI's
// Llama3-VILA-M3-8B, Efficient-Large-Model/NVILA-8B) and the module tree it loads into, shared by
// VILA1.5 / VILA-M3 (src/models/vila/) and NVILA (src/models/nvila/). GENERATIVE.md 1.13-1.15.
//
//   <root>/config.json        LlavaLlamaConfig (model_type llava_llama): llm_cfg / vision_tower_cfg /
//                             mm_projector_cfg (dicts: the parts live in the sub-folders named after
//                             the key without "_cfg"; strings: a path), or the older mm_vision_tower
//                             string in place of vision_tower_cfg; mm_vision_select_layer/_feature,
//                             image_aspect_ratio, dynamic_s2 / s2_scales / max_tiles, chat_template,
//                             image_encoder.
//   <root>/llm/               LlamaForCausalLM or Qwen2ForCausalLM (config.json, safetensors) and the
//                             tokenizer (the reference looks for tokenizer_config.json in the llm
//                             folder, then in <llm>/llm).
//   <root>/vision_tower/      SiglipVisionModel (config.json, safetensors, preprocessor_config.json).
//   <root>/mm_projector/      MultimodalProjector (config.json mm_projector_type, safetensors
//                             "layers.<i>.*" as its nn.Sequential names them).
//
// Config fields whose behaviour we do not implement are refused by name (load_config).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/clip_configs.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/linear.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/vision/image.h"

namespace mvb::vila {

struct Layout {
  std::string root;              // the checkpoint folder (config.json)
  std::string llm_dir;           // the language model's folder
  std::string vision_tower_dir;  // the SigLIP folder
  std::string mm_projector_dir;  // the projector's folder
  std::string tokenizer_dir;     // llm_dir, or <llm_dir>/llm (the reference's has_tokenizer() search)
};

// BasicImageEncoder (config.json "image_encoder", a JSON string or object; absent = the default):
// text tokenized with tokenizer(text).input_ids (special tokens included) and embedded before /
// after every image's features. nullopt = none.
struct ImageEncoderConfig {
  std::optional<std::string> start_tokens;
  std::optional<std::string> end_tokens = std::string("\n");
};

struct VilaConfig {
  Layout layout;
  nlohmann::json root_json;        // <root>/config.json as read
  std::string llm_model_type;      // llm/config.json model_type: "llama" or "qwen2"
  nn::DecoderOptions text;         // llm/config.json
  SiglipVisionConfig vision;       // vision_tower/config.json (architectures SiglipVisionModel)
  ImageTransform image_transform;  // vision_tower/preprocessor_config.json (SiglipImageProcessor)
  std::string projector_type;      // mm_projector/config.json: mlp_downsample | mlp_downsample_2x2_fix
  int64_t select_layer = -2;       // mm_vision_select_layer: hidden_states index
  // mm_vision_select_feature "patch" drops hidden state token 0 (even for SigLIP, which has no class
  // token: the reference does so); "cls_patch" (the published configs) keeps every token.
  bool drop_first_token = false;
  std::string image_aspect_ratio = "resize";  // resize (VILA1.5 / VILA-M3) | dynamic_s2 (NVILA)
  bool dynamic_s2 = false;
  std::vector<int64_t> s2_scales;  // "448,896,1344" as ints (dynamic_s2)
  int64_t s2_max_split_size = 0;
  int64_t min_tiles = 1;
  int64_t max_tiles = 12;
  // config.json chat_template: the name of one of the reference's chat_templates/<name>.jinja, which
  // replaces the llm tokenizer's own template; "" = the tokenizer's own.
  std::string chat_template;
  ImageEncoderConfig image_encoder;

  int64_t vision_grid() const { return vision.image_size / vision.patch_size; }  // 27 at 384 / 14
};

// Reads <dir>/config.json and the three sub-folders' config.json (+ the tower's
// preprocessor_config.json). Throws mvb::Error naming the file and key for missing or unsupported
// values (s2, ps3, mm_use_im_start_end, vision_resolution, other towers / projectors / encoders ...).
VilaConfig load_config(const std::string& dir);

// DownSampleBlock / DownSample2x2BlockFix (identical for square grids): [N, h*w, C] tokens of a
// square grid -> zero-pad to even sides -> each 2x2 block's tokens concatenated on channels in the
// order (r, c), (r, c+1), (r+1, c), (r+1, c+1) -> [N, ceil(h/2)^2, 4C].
at::Tensor downsample_2x2(const at::Tensor& x);

// MultimodalProjector "mlp_downsample" / "mlp_downsample_2x2_fix": layers = Sequential(DownSample,
// LayerNorm(4C), Linear(4C, D), GELU, Linear(D, D)); parameters "layers.1/2/4.*" as published.
class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(int64_t mm_hidden_size, int64_t hidden_size);
  at::Tensor forward(const at::Tensor& vision_tokens);  // [N, h*w, C] -> [N, ceil(h/2)^2, D]
  torch::nn::LayerNorm norm{nullptr};                   // layers.1
  nn::Linear fc1{nullptr}, fc2{nullptr};                // layers.2, layers.4
};
TORCH_MODULE(Projector);

//   VilaNet
//   ├── vision_tower   nn::VisionTransformer (SigLIP; no pooling head: hidden_states[-2] never uses it)
//   ├── mm_projector   Projector
//   └── llm            nn::CausalLM (model.*, lm_head)
class VilaNetImpl : public torch::nn::Module {
 public:
  explicit VilaNetImpl(const VilaConfig& cfg);
  // The tower's hidden_states[select_layer] (minus token 0 for "patch"): [N, P, C].
  at::Tensor vision_features(const at::Tensor& pixel_values);
  // encode_images without dynamic S2: projector(vision_features(pixels)) -> [N, tokens, D].
  at::Tensor encode_images(const at::Tensor& pixel_values);

  VilaConfig cfg;
  nn::VisionTransformer vision_tower{nullptr};
  Projector mm_projector{nullptr};
  nn::CausalLM llm{nullptr};
};
TORCH_MODULE(VilaNet);

// Loads the three sub-folders' weights into `net` (each strict: every parameter found, nothing left
// over; the tower's pooling head and a tied lm_head are skipped). When net.cfg.text.vocab_size is below
// the checkpoint's vocabulary, embed_tokens / lm_head keep their first vocab_size rows (the reference's
// resize_token_embeddings(len(tokenizer)) shrinking them). Returns a description of the files.
std::string load_weights(VilaNetImpl& net);

// Our module path -> the module path in the reference's LlavaLlamaModel (the names PEFT's
// adapter_model keys and non_lora_trainables use): llm.* as is, vision_tower.* ->
// vision_tower.vision_tower.vision_model.*, mm_projector.{norm,fc1,fc2} -> mm_projector.layers.{1,2,4}.
std::optional<std::string> published_module_name(const std::string& ours);

}  // namespace mvb::vila
