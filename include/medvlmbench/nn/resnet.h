// OpenAI CLIP's ModifiedResNet (the PMC-CLIP image encoder): a three-conv stem with average pooling,
// anti-aliased Bottleneck blocks (average pooling before the strided 1x1 conv) and an attention
// pooling head over the final feature map. Module names follow the published state dict (conv1, bn1,
// layer1.0.conv1, layer1.0.downsample.0, attnpool.q_proj ...); BatchNorm runs in eval mode.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <vector>

#include "medvlmbench/nn/transformer.h"

namespace mvb::nn {

struct ModifiedResNetOptions {
  std::vector<int64_t> layers{3, 4, 6, 3};
  int64_t width = 64;
  int64_t output_dim = 1024;
  int64_t heads = 32;
  int64_t image_size = 224;
};

class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride);
  at::Tensor forward(const at::Tensor& x);
  int64_t stride;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, down_conv{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, down_bn{nullptr};
};
TORCH_MODULE(Bottleneck);

// CLIP's AttentionPool2d: the mean token plus all positions attend; the mean token's output is the
// image embedding (projected by c_proj, which sets the output width).
class AttentionPool2dImpl : public torch::nn::Module {
 public:
  AttentionPool2dImpl(int64_t grid, int64_t embed, int64_t heads, int64_t output_dim);
  at::Tensor forward(const at::Tensor& feature_map);  // [N, C, H, W] -> [N, output_dim]
  int64_t heads;
  at::Tensor positional_embedding;
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(AttentionPool2d);

class ModifiedResNetImpl : public torch::nn::Module {
 public:
  explicit ModifiedResNetImpl(const ModifiedResNetOptions& o);
  at::Tensor forward(const at::Tensor& x);  // [N, 3, S, S] -> [N, output_dim]
  ModifiedResNetOptions opts;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  std::vector<std::vector<Bottleneck>> stages;
  AttentionPool2d attnpool{nullptr};
};
TORCH_MODULE(ModifiedResNet);

// The published name of a parameter of ModifiedResNetImpl -> ours ("layer1.0.downsample.0.weight" ->
// "layer1.0.down_conv.weight"; everything else keeps its name).
std::string modified_resnet_name(const std::string& published);

}  // namespace mvb::nn
