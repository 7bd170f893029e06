// CausalLMBackend: the engine's backend over a CausalLM (the language model of most local VLMs).
#include <ATen/ATen.h>

#include "medvlmbench/nn/generation.h"

namespace mvb::nn {

at::Tensor CausalLMBackend::embed_tokens(const at::Tensor& ids) { return lm_->model->embed(ids); }

at::Tensor CausalLMBackend::forward_last(const DecoderInputs& in, KVCache& cache) {
  // Only the last position's logits: the head over a whole prompt would cost [B, L, vocab].
  return lm_->forward(in, &cache, LogitsFor::kLast);
}

KVCache CausalLMBackend::make_cache(int64_t batch, int64_t capacity) { return lm_->make_cache(batch, capacity); }

int64_t CausalLMBackend::position_streams() const { return lm_->opts.rope.mrope_section.empty() ? 1 : 3; }

bool CausalLMBackend::shares_prompt_prefix() const { return lm_->opts.sliding_window == 0; }

c10::Device CausalLMBackend::device() const { return lm_->model->embed_tokens->weight.device(); }

at::ScalarType CausalLMBackend::dtype() const { return lm_->model->embed_tokens->weight.scalar_type(); }

}  // namespace mvb::nn
