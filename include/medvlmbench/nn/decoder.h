// The decoder-only language model every local generative VLM runs on: one decoder layer configured by
// options (LLaMA/Vicuna, Mistral, Qwen2, Qwen2-VL's M-RoPE text model, and later Gemma3, Phi-3, OPT),
// with Hugging Face module names so that a checkpoint's "model.layers.3.self_attn.q_proj.weight"
// loads into the module of that name (no rename tables):
//
//   CausalLM                       (LlamaForCausalLM and friends)
//   ├── model                      DecoderModel
//   │   ├── embed_tokens           Embedding(vocab, hidden)
//   │   ├── layers.N               DecoderLayer
//   │   │   ├── input_layernorm    RMSNorm or LayerNorm
//   │   │   ├── self_attn          {q,k,v,o}_proj (+ q_norm/k_norm when qk_norm)
//   │   │   ├── post_attention_layernorm
//   │   │   └── mlp                {gate,up,down}_proj (SwiGLU) or fc1/fc2 (GELU/ReLU)
//   │   └── norm
//   └── lm_head                    (tied to embed_tokens when tie_word_embeddings)
//
// Attention is grouped-query (kv_heads <= heads) with an optional KV cache (kv_cache.h); masks are
// built here from a 1/0 padding mask: causal, left padding, an optional sliding window, and optional
// bidirectional groups (tokens of one image attending to each other during prefill, Gemma3).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/kv_cache.h"
#include "medvlmbench/nn/linear.h"
#include "medvlmbench/nn/rope.h"

namespace mvb::nn {

enum class NormKind { kRmsNorm, kLayerNorm };
enum class MlpKind { kGated, kPlain };  // gated: down(act(gate(x)) * up(x)); plain: fc2(act(fc1(x)))

struct DecoderOptions {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_layers = 32;
  int64_t num_heads = 32;
  int64_t num_kv_heads = 32;
  int64_t head_dim = 128;  // hidden_size / num_heads unless the config says otherwise
  NormKind norm = NormKind::kRmsNorm;
  double norm_eps = 1e-6;
  bool qkv_bias = false;  // Qwen2: true
  bool o_bias = false;
  bool mlp_bias = false;
  MlpKind mlp = MlpKind::kGated;
  Activation act = Activation::kSilu;
  bool qk_norm = false;              // RMSNorm over head_dim on q and k (Gemma3, Qwen3)
  int64_t sliding_window = 0;        // 0 = none (applies to every layer unless layer_sliding is set)
  std::vector<bool> layer_sliding;   // per layer: whether it uses the sliding window (Gemma3)
  RopeOptions rope;
  bool tie_word_embeddings = false;
  double attention_scale = 0.0;      // 0 = 1/sqrt(head_dim)
  double embedding_multiplier = 1.0; // Gemma: sqrt(hidden_size)
  int64_t pad_token_id = -1;
  // Gemma3 (defaults keep the LLaMA block):
  double norm_weight_offset = 0.0;  // every RMSNorm (q/k norms too) scales by (offset + weight): Gemma 1
  // Sandwich norms: post_attention_layernorm normalises the attention output before its residual add,
  // and pre_feedforward_layernorm / post_feedforward_layernorm wrap the MLP (Gemma3DecoderLayer).
  bool feedforward_norms = false;
  // Sliding-window layers rotate with their own rope (Gemma3: rope_local_base_freq, no scaling); the
  // other layers with `rope`. false = one rope for every layer.
  bool has_sliding_rope = false;
  RopeOptions sliding_rope;
};

// Options from a Hugging Face text config (config.json of LlamaForCausalLM / MistralForCausalLM /
// Qwen2ForCausalLM / Gemma3ForCausalLM, or the text_config of a VLM: llava, qwen2_vl, qwen2_5_vl,
// gemma3). Keys follow transformers' names and defaults for `model_type`; a value of the wrong type or an unsupported
// setting (e.g. hidden_act) throws mvb::Error naming `where` and the key.
DecoderOptions decoder_options_from_config(const nlohmann::json& text_config, const std::string& where);

class RMSNormImpl : public torch::nn::Module {
 public:
  // Gemma's RMSNorm scales by (1 + weight) and is initialised to zeros: offset = 1.
  RMSNormImpl(int64_t dim, double eps, double weight_offset = 0.0);
  at::Tensor forward(const at::Tensor& x);  // computes in float32, returns x's dtype (as transformers)
  at::Tensor weight;
  double eps, weight_offset;
};
TORCH_MODULE(RMSNorm);

// What one forward pass sees. Shapes: B batch rows, L new positions, P past positions in the cache.
struct DecoderInputs {
  at::Tensor inputs_embeds;         // [B, L, hidden]
  at::Tensor position_ids;          // [B, L] int64, or [3, B, L] for M-RoPE
  at::Tensor attention_mask;        // [B, P + L] 1 = token, 0 = padding; undefined = all tokens
  at::Tensor bidirectional_groups;  // [B, L] int64: > 0 = tokens with the same id attend both ways; undefined = none
};

class DecoderAttentionImpl : public torch::nn::Module {
 public:
  DecoderAttentionImpl(const DecoderOptions& o, int64_t layer_index);
  // x [B, L, hidden]; mask additive [B, 1, L, P + L]; cos/sin from RotaryEmbedding (undefined = no rope).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cos, const at::Tensor& sin,
                     KVCache* cache);
  DecoderOptions opts;
  int64_t layer_index;
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(DecoderAttention);

class DecoderMlpImpl : public torch::nn::Module {
 public:
  explicit DecoderMlpImpl(const DecoderOptions& o);
  at::Tensor forward(const at::Tensor& x);
  DecoderOptions opts;
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};  // kGated
  Linear fc1{nullptr}, fc2{nullptr};                                // kPlain
};
TORCH_MODULE(DecoderMlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const DecoderOptions& o, int64_t layer_index);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cos, const at::Tensor& sin,
                     KVCache* cache);
  DecoderOptions opts;
  DecoderAttention self_attn{nullptr};
  DecoderMlp mlp{nullptr};
  torch::nn::AnyModule input_layernorm, post_attention_layernorm;  // RMSNorm or LayerNorm
  torch::nn::AnyModule pre_feedforward_layernorm, post_feedforward_layernorm;  // feedforward_norms only
};
TORCH_MODULE(DecoderLayer);

struct DecoderOutputs {
  at::Tensor last_hidden_state;           // [B, L, hidden] after the final norm
  std::vector<at::Tensor> hidden_states;  // embeddings + each layer's output, when asked for
};

// The stack without the head ("model." in the checkpoints).
class DecoderModelImpl : public torch::nn::Module {
 public:
  explicit DecoderModelImpl(const DecoderOptions& o);
  at::Tensor embed(const at::Tensor& input_ids);  // [B, L] -> [B, L, hidden], times embedding_multiplier
  DecoderOutputs forward(const DecoderInputs& in, KVCache* cache = nullptr, bool output_hidden_states = false);
  DecoderOptions opts;
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  std::vector<DecoderLayer> typed_layers;
  torch::nn::AnyModule norm;
  RotaryEmbedding rotary;
  RotaryEmbedding sliding_rotary;  // has_sliding_rope only
};
TORCH_MODULE(DecoderModel);

// Which positions the head is applied to (prefill of a long prompt only needs the last one).
enum class LogitsFor { kAll, kLast };

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const DecoderOptions& o);
  // Logits in float32: [B, L, vocab] (kAll) or [B, vocab] (kLast).
  at::Tensor forward(const DecoderInputs& in, KVCache* cache = nullptr, LogitsFor which = LogitsFor::kAll);
  KVCache make_cache(int64_t batch, int64_t capacity) const;  // in the module's dtype and device
  DecoderOptions opts;
  DecoderModel model{nullptr};
  Linear lm_head{nullptr};  // shares embed_tokens' weight when tied
};
TORCH_MODULE(CausalLM);

// Additive attention mask [B, 1, L, P + L] in `dtype` for L new positions after P cached ones:
// causal, padding from `attention_mask` ([B, P + L], undefined = none), optional sliding window
// (keys more than window - 1 positions back are hidden) and bidirectional groups ([B, L]).
at::Tensor decoder_attention_mask(int64_t batch, int64_t new_len, int64_t past_len, const at::Tensor& attention_mask,
                                  int64_t sliding_window, const at::Tensor& bidirectional_groups,
                                  at::ScalarType dtype, c10::Device device);

}  // namespace mvb::nn
