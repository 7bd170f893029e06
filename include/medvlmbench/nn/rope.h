// Rotary position embeddings as transformers computes them (modeling_rope_utils.py): the inverse
// frequencies for rope_type default / linear / dynamic / llama3 / yarn, applied rotate-half style,
// 1-D (LLaMA, Mistral, Qwen2, Gemma3) or multimodal (Qwen2-VL's M-RoPE: three position streams
// t, h, w whose frequency bands are interleaved by mrope_section).
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::nn {

struct RopeOptions {
  bool enabled = true;           // false: no rotary (learned or no positions)
  int64_t rotary_dim = 0;        // 0 = head_dim (partial rotary: Phi-style)
  double theta = 10000.0;        // rope_theta
  std::string type = "default";  // rope_scaling.rope_type / type: default, linear, dynamic, llama3, yarn
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;
  int64_t max_position_embeddings = 2048;
  double attention_factor = 0.0;             // yarn (0 = derived from factor)
  double beta_fast = 32.0, beta_slow = 1.0;  // yarn
  bool truncate = true;                      // yarn: round the correction range to whole dimensions
  std::vector<int64_t> mrope_section;        // non-empty: M-RoPE over position ids [3, B, L]
};

// Reads rope_theta + rope_scaling (transformers 4.x configs) or rope_parameters (transformers 5
// configs), plus head_dim / partial_rotary_factor / max_position_embeddings from a text config.
// Throws mvb::Error naming `where` for an unknown rope type.
RopeOptions rope_options_from_config(const nlohmann::json& text_config, int64_t head_dim, const std::string& where);

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  RotaryEmbedding(const RopeOptions& o, int64_t head_dim);
  // cos, sin of shape [B, L, rotary_dim] (float32, on position_ids' device) for position_ids [B, L]
  // or, with mrope_section, [3, B, L].
  std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& position_ids) const;
  const RopeOptions& options() const { return opts_; }
  double attention_scaling() const { return attention_scaling_; }

 private:
  RopeOptions opts_;
  at::Tensor inv_freq_;  // [rotary_dim / 2]
  double attention_scaling_ = 1.0;
};

// q, k: [B, heads, L, head_dim]; cos, sin: [B, L, rotary_dim]. Rotates the first rotary_dim channels
// (rotate_half convention) and returns the pair in the input dtype.
std::pair<at::Tensor, at::Tensor> apply_rotary(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                               const at::Tensor& sin);

}  // namespace mvb::nn
