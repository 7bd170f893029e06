// OPT (OPTForCausalLM, transformers 5.23 modeling_opt.py) under its own module names, as BLIP-2's
// language model ("language_model." in Blip2ForConditionalGeneration checkpoints):
//
//   model.decoder.embed_tokens            Embedding(vocab, hidden)
//   model.decoder.embed_positions         learned positions, max_position_embeddings + 2 rows: position p
//                                         reads row p + 2 (OPT's offset); positions come from the
//                                         attention mask (cumsum - 1, so left padding does not shift them)
//   model.decoder.layers.N.self_attn      {q,k,v,out}_proj with bias (enable_bias); q is scaled before q k^T
//   model.decoder.layers.N.self_attn_layer_norm, fc1 -> ReLU -> fc2, final_layer_norm   (pre-LN)
//   model.decoder.final_layer_norm        unless _remove_final_layer_norm
//   lm_head                               tied to embed_tokens (tie_word_embeddings, OPT's default)
//
// word_embed_proj_dim != hidden_size (project_in / project_out) and do_layer_norm_before false (post-LN),
// both OPT-350m's, are refused by name.
// The module runs under the one generation engine through OptBackend (nn::GenerationBackend), with the
// shared KV cache and nn::decoder_attention_mask.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/nn/kv_cache.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::opt {

// OPTConfig (transformers' defaults for absent keys).
struct OptConfig {
  int64_t vocab_size = 50272;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t ffn_dim = 3072;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 2048;
  bool do_layer_norm_before = true;
  bool remove_final_layer_norm = false;  // _remove_final_layer_norm
  bool enable_bias = true;
  bool layer_norm_elementwise_affine = true;
  std::string activation_function = "relu";
  bool tie_word_embeddings = true;
  int64_t pad_token_id = 1, bos_token_id = 2;
  std::vector<int64_t> eos_token_ids{2};

  // `j` is the OPT config (Blip2Config's text_config); `where` names the file in errors.
  static OptConfig from_json(const nlohmann::json& j, const std::string& where);
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

class OptAttentionImpl : public torch::nn::Module {
 public:
  OptAttentionImpl(const OptConfig& c, int64_t layer_index);
  // x [B, L, H]; mask additive [B, 1, L, P + L]; cache: this layer's keys/values are appended.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, nn::KVCache* cache);
  int64_t heads, layer_index;
  nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(OptAttention);

class OptDecoderLayerImpl : public torch::nn::Module {
 public:
  OptDecoderLayerImpl(const OptConfig& c, int64_t layer_index);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, nn::KVCache* cache);
  nn::Activation act;
  OptAttention self_attn{nullptr};
  torch::nn::LayerNorm self_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(OptDecoderLayer);

// OPTDecoder ("model.decoder.").
class OptDecoderImpl : public torch::nn::Module {
 public:
  explicit OptDecoderImpl(const OptConfig& c);
  // in.inputs_embeds [B, L, H]; in.position_ids [B, L] (0-based, before the offset of 2; undefined =
  // from the attention mask as transformers computes them); in.attention_mask [B, P + L] or undefined.
  at::Tensor forward(const nn::DecoderInputs& in, nn::KVCache* cache);
  OptConfig cfg;
  nn::Embedding embed_tokens{nullptr}, embed_positions{nullptr};
  torch::nn::ModuleList layers{nullptr};
  std::vector<OptDecoderLayer> typed_layers;
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(OptDecoder);

class OptForCausalLMImpl : public torch::nn::Module {
 public:
  explicit OptForCausalLMImpl(const OptConfig& c);
  // Logits in float32: [B, L, vocab] (kAll) or [B, vocab] (kLast).
  at::Tensor forward(const nn::DecoderInputs& in, nn::KVCache* cache = nullptr,
                     nn::LogitsFor which = nn::LogitsFor::kAll);
  at::Tensor embed(const at::Tensor& ids) { return decoder->embed_tokens->forward(ids); }
  nn::KVCache make_cache(int64_t batch, int64_t capacity) const;  // in the module's dtype and device
  OptConfig cfg;
  OptDecoder decoder{nullptr};  // registered as model.decoder
  nn::Linear lm_head{nullptr};  // registered only when not tied
};
TORCH_MODULE(OptForCausalLM);

// OPT's positions for a padded batch: cumsum(mask) * mask - 1 ([B, L] int64; -1 at padding), what
// OPTLearnedPositionalEmbedding computes when no position_ids are given.
at::Tensor positions_from_mask(const at::Tensor& attention_mask);

// The engine's view of an OPTForCausalLM.
class OptBackend : public nn::GenerationBackend {
 public:
  explicit OptBackend(OptForCausalLM lm) : lm_(std::move(lm)) {}
  at::Tensor embed_tokens(const at::Tensor& ids) override { return lm_->embed(ids); }
  at::Tensor forward_last(const nn::DecoderInputs& in, nn::KVCache& cache) override;
  nn::KVCache make_cache(int64_t batch, int64_t capacity) override { return lm_->make_cache(batch, capacity); }
  c10::Device device() const override;
  at::ScalarType dtype() const override;

 private:
  OptForCausalLM lm_;
};

}  // namespace mvb::opt
