// Activation functions by their Hugging Face config names (hidden_act), so towers read them from
// config.json instead of hard-coding them.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace mvb::nn {

enum class Activation {
  kQuickGelu,  // x * sigmoid(1.702 x): OpenAI CLIP
  kGelu,       // exact (erf) GELU: BERT, timm ViT
  kGeluTanh,   // tanh approximation: SigLIP ("gelu_pytorch_tanh"), "gelu_new"
  kRelu,
  kSilu,  // x * sigmoid(x): LLaMA-family SwiGLU MLPs ("silu", "swish")
};

// Throws mvb::Error naming the value for names we do not implement.
Activation parse_activation(const std::string& hf_name);
at::Tensor activate(const at::Tensor& x, Activation a);

}  // namespace mvb::nn
