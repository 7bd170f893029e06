// XGenMiniV1: xGen-MM (BLIP-3) phi3-mini instruct r-v1 (Salesforce/xgen-mm-phi3-mini-instruct-r-v1) as a local
// generative model (registry name "XGenMiniV1"; tasks vqa and caption). The reference (model/xgen.py,
// GENERATIVE.md 1.11) loads it as remote code; this is that code's computation (LAVIS branch xgen-mm,
// open_flamingo/src: XGenMMPerceiver, PerceiverResampler, DecoupledEmbedding / DecoupledLinear):
//
//   vlm.vision_encoder    SiglipVisionTransformer (so400m/14-384): last_hidden_state after post_layernorm
//   vlm.vision_tokenizer  PerceiverResampler: `num_vis_tokens` latents per crop (6 blocks of masked
//                         cross-attention over [crop tokens; latents] + LayerNorm/GELU MLP, LayerNorm, Linear)
//   vlm.lang_model        Phi3ForCausalLM (fused qkv_proj / gate_up_proj split at load onto the shared decoder),
//                         embed_tokens.additional_embedding (ids >= initial_tokenizer_len: <image>,
//                         <image placeholder>, <|endofchunk|>) and lm_head.additional_fc (logits: the first
//                         initial_tokenizer_len of lm_head, then the 3 additional ones)
//
// anyres: the image is resized (PIL bicubic) and black-padded to the best of five grids (1x2, 2x1, 2x2, 3x1, 1x3
// crops), cut into crops, and a base crop (the whole image squashed) goes first. The crops' SigLIP features are
// merged into one grid, masked outside the image's real aspect (unpad_image with keep_original_shape), and
// regrouped in raster order into crop-sized groups ("patch sampling": the published code's view of the merged
// grid) before the perceiver; each group gives num_vis_tokens tokens, all inserted at the prompt's <image>.
//
// Prompt: the model card's template, greedy, 768 new tokens, stop on <|end|> (read from the tokenizer) and the
// text config's eos, answer = decode(skip_special_tokens).split("<|end|>")[0], stripped. The reference passes
// image_size=[tensor.size] (a bound method, not (W, H)), no stop criterion and an unstripped answer; those are
// documented quirks, not reproduced: we pass the image's real (W, H), as the model card does.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "medvlmbench/models/clip_configs.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/nn/linear.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/vision/image.h"

namespace mvb::xgen {

// (width, height) pairs in pixels, as the published code lists anyres grids.
using Grids = std::vector<std::pair<int64_t, int64_t>>;
Grids default_grids(int64_t base);  // [[b, 2b], [2b, b], [2b, 2b], [3b, b], [b, 3b]]

struct Config {
  SiglipVisionConfig vision;   // so400m/14-384 unless vision_encoder_config.vision_config says otherwise
  nn::DecoderOptions text;     // Phi-3 (Phi3Config defaults of transformers 4.41 for absent keys)
  nlohmann::json text_config;  // as read
  int64_t initial_tokenizer_len = 32012;
  Grids anyres_grids;              // vision_encoder_config.anyres_grids, else default_grids(image_size)
  int64_t vis_feature_dim = 1152;  // vision_tokenizer_config
  int64_t lang_embedding_dim = 3072;
  int64_t num_vis_tokens = 128;
  int64_t perceiver_depth = 6, perceiver_heads = 16, perceiver_dim_head = 96;  // PerceiverResampler's constants
  static Config from_json(const nlohmann::json& j, const std::string& where);
  static Config load(const std::string& model_dir);
};

// preprocessor_config.json of the Blip3ImageProcessor remote code.
struct ImageConfig {
  int64_t size = 384;
  std::vector<float> mean{0.5f, 0.5f, 0.5f}, std{0.5f, 0.5f, 0.5f};
  Grids grids;  // "grids" when set, else default_grids(size)
  static ImageConfig load(const std::string& model_dir);
};

// The published select_best_resolution: (width, height) of the grid for an image of `w` x `h`.
std::pair<int64_t, int64_t> select_best_resolution(int64_t w, int64_t h, const Grids& grids);
// Blip3ImageProcessor(image_aspect_ratio="anyres"): [1 + crops, 3, size, size] float32, the base crop first.
at::Tensor preprocess_anyres(const RgbImage& img, const ImageConfig& cfg);
// The model card's prompt for one question (one <image>).
std::string render_prompt(const std::string& question);

class PerceiverAttentionImpl : public torch::nn::Module {
 public:
  PerceiverAttentionImpl(int64_t dim, int64_t dim_head, int64_t heads);
  // x [B, v, D], latents [B, n, D], mask [B, v] (1 = keep) -> [B, n, D]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& latents, const at::Tensor& mask);
  int64_t heads, dim_head;
  torch::nn::LayerNorm norm_media{nullptr}, norm_latents{nullptr};
  nn::Linear to_q{nullptr}, to_kv{nullptr}, to_out{nullptr};
};
TORCH_MODULE(PerceiverAttention);

class PerceiverResamplerImpl : public torch::nn::Module {
 public:
  explicit PerceiverResamplerImpl(const Config& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask);  // [B, v, D], [B, v] -> [B, n, text hidden]
  at::Tensor latents;
  torch::nn::ModuleList layers{nullptr};  // layers.i.0 attention, layers.i.1 the MLP (0 LayerNorm, 1, 3 Linear)
  std::vector<PerceiverAttention> attn;
  std::vector<torch::nn::LayerNorm> ff_norm;
  std::vector<nn::Linear> ff_in, ff_out;
  torch::nn::LayerNorm norm{nullptr};
  nn::Linear projection{nullptr};
};
TORCH_MODULE(PerceiverResampler);

// The Phi-3 decoder with DecoupledEmbedding / DecoupledLinear around it.
class LanguageModelImpl : public torch::nn::Module {
 public:
  LanguageModelImpl(const Config& c);
  at::Tensor embed(const at::Tensor& ids);           // [B, L] -> [B, L, hidden]
  at::Tensor head(const at::Tensor& hidden_states);  // [..., hidden] -> [..., initial_tokenizer_len + 3] float32
  int64_t initial_len;
  nn::CausalLM lm{nullptr};
  at::Tensor additional_embedding, additional_fc;  // [3, hidden] each
  at::Tensor lm_head_bias, additional_fc_bias;     // DecoupledLinear's biases
};
TORCH_MODULE(LanguageModel);

class XGenModel : public LocalVlm {
 public:
  explicit XGenModel(const ModelSpec& spec);
  nlohmann::json describe() const override;

  struct Input {
    std::string prompt;
    std::vector<int64_t> input_ids;  // the tokenizer's ids (one <image> id)
    at::Tensor pixel_values;         // [1 + crops, 3, S, S]
    nn::MultimodalInput chunks;
  };
  Input process(const GenerationRequest& request);
  // vision features -> perceiver tokens for one image: [(1 + crops) * num_vis_tokens, text hidden]
  at::Tensor image_tokens(const at::Tensor& pixel_values, int64_t width, int64_t height);
  // Teacher-forced logits over the expanded prompt, [L - 1 + image tokens, initial_len + 3] float32.
  at::Tensor forward_logits(const Input& input);
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;
  std::vector<int64_t> encode_prompt(const std::string& prompt) const;
  std::string decode_answer(const std::vector<int64_t>& ids) const override;
  // decode(skip_special_tokens=True) as the slow tokenizer after update_special_tokens does it.
  std::string decode_skip_special(const std::vector<int64_t>& ids) const;

  const Config& config() const { return cfg_; }
  int64_t media_token_id() const { return cfg_.initial_tokenizer_len; }
  int64_t end_token_id() const { return end_id_; }

 protected:
  Prepared prepare_one(const GenerationRequest& request) override;
  nn::GenerationBackend& backend() override { return *backend_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  std::string dir_;
  Config cfg_;
  ImageConfig image_cfg_;
  nn::GenerationConfig gen_defaults_;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  int64_t end_id_ = -1;
  nn::VisionTransformer vision_{nullptr};
  PerceiverResampler perceiver_{nullptr};
  LanguageModel lm_{nullptr};
  std::unique_ptr<nn::GenerationBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
};

}  // namespace mvb::xgen
