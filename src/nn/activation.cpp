#include "medvlmbench/nn/activation.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

Activation parse_activation(const std::string& name) {
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  throw Error("unsupported hidden_act '" + name +
              "' (supported: quick_gelu, gelu, gelu_pytorch_tanh, gelu_new, relu, silu)");
}

at::Tensor activate(const at::Tensor& x, Activation a) {
  switch (a) {
    case Activation::kQuickGelu:
      return x * at::sigmoid(x * 1.702);
    case Activation::kGelu:
      return at::gelu(x);
    case Activation::kGeluTanh:
      return at::gelu(x, "tanh");
    case Activation::kRelu:
      return at::relu(x);
    case Activation::kSilu:
      return at::silu(x);
  }
  return x;
}

}  // namespace mvb::nn
