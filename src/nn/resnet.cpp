#include "medvlmbench/nn/resnet.h"

#include <ATen/ATen.h>

#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/torch_compat.h"

namespace mvb::nn {
namespace {
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}
}  // namespace

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t s) : stride(s) {
  conv1 = register_module("conv1", conv(inplanes, planes, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv(planes, planes * 4, 1));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(planes * 4));
  if (s > 1 || inplanes != planes * 4) {
    down_conv = register_module("down_conv", conv(inplanes, planes * 4, 1));
    down_bn = register_module("down_bn", torch::nn::BatchNorm2d(planes * 4));
  }
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = at::relu(bn1->forward(conv1->forward(x)));
  out = at::relu(bn2->forward(conv2->forward(out)));
  if (stride > 1) out = at::avg_pool2d(out, stride);
  out = bn3->forward(conv3->forward(out));
  at::Tensor identity = x;
  if (down_conv) {
    at::Tensor d = stride > 1 ? at::avg_pool2d(x, stride) : x;
    identity = down_bn->forward(down_conv->forward(d));
  }
  return at::relu(out + identity);
}

ModifiedResNetImpl::ModifiedResNetImpl(const ModifiedResNetOptions& o) : opts(o) {
  MVB_CHECK(o.layers.size() == 4, "ModifiedResNet needs 4 stages, got ", o.layers.size());
  const int64_t w = o.width;
  conv1 = register_module("conv1", conv(3, w / 2, 3, 2, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(w / 2));
  conv2 = register_module("conv2", conv(w / 2, w / 2, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(w / 2));
  conv3 = register_module("conv3", conv(w / 2, w, 3, 1, 1));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(w));
  int64_t inplanes = w;
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t planes = w << s;
    std::vector<Bottleneck> blocks;
    auto list = register_module("layer" + std::to_string(s + 1), torch::nn::ModuleList());
    for (int64_t b = 0; b < o.layers[s]; ++b) {
      blocks.push_back(Bottleneck(inplanes, planes, b == 0 && s > 0 ? 2 : 1));
      list->push_back(blocks.back());
      inplanes = planes * 4;
    }
    stages.push_back(std::move(blocks));
  }
  attnpool = register_module("attnpool", AttentionPool2d(o.image_size / 32, w * 32, o.heads, o.output_dim));
}

AttentionPool2dImpl::AttentionPool2dImpl(int64_t grid, int64_t embed, int64_t h, int64_t output_dim) : heads(h) {
  MVB_CHECK(h > 0 && embed % h == 0, "attention pool width ", embed, " is not divisible by ", h, " heads");
  positional_embedding = register_parameter("positional_embedding", at::randn({grid * grid + 1, embed}));
  k_proj = register_module("k_proj", Linear(embed, embed, /*bias=*/true));
  q_proj = register_module("q_proj", Linear(embed, embed, /*bias=*/true));
  v_proj = register_module("v_proj", Linear(embed, embed, /*bias=*/true));
  c_proj = register_module("c_proj", Linear(embed, output_dim, /*bias=*/true));
}

at::Tensor AttentionPool2dImpl::forward(const at::Tensor& x) {
  at::Tensor t = x.flatten(2).transpose(1, 2);  // [N, HW, C]
  MVB_CHECK(t.size(1) + 1 == positional_embedding.size(0), "attention pool expects a ",
            positional_embedding.size(0) - 1, "-position feature map, got ", t.size(1),
            " (wrong image size for this checkpoint?)");
  t = at::cat({t.mean(1, true), t}, 1) + positional_embedding.unsqueeze(0).to(t.scalar_type());
  auto split = [&](const at::Tensor& z) {
    return z.view({z.size(0), z.size(1), heads, z.size(2) / heads}).transpose(1, 2);
  };
  // Only the first token's output is used; each query attends independently, so only it is computed.
  at::Tensor q = split(q_proj->forward(t.slice(1, 0, 1)));
  at::Tensor o = compat::scaled_dot_product_attention(q, split(k_proj->forward(t)), split(v_proj->forward(t)));
  return c_proj->forward(o.transpose(1, 2).reshape({t.size(0), t.size(2)}));
}

at::Tensor ModifiedResNetImpl::forward(const at::Tensor& input) {
  at::Tensor x = input.to(conv1->weight.scalar_type());
  x = at::relu(bn1->forward(conv1->forward(x)));
  x = at::relu(bn2->forward(conv2->forward(x)));
  x = at::relu(bn3->forward(conv3->forward(x)));
  x = at::avg_pool2d(x, 2);
  for (auto& stage : stages)
    for (auto& block : stage) x = block->forward(x);
  return attnpool->forward(x);
}

std::string modified_resnet_name(const std::string& n) {
  static const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^(layer\d+\.\d+)\.downsample\.0\.(.*)$)"), "$1.down_conv.$2"},
      {std::regex(R"(^(layer\d+\.\d+)\.downsample\.1\.(.*)$)"), "$1.down_bn.$2"},
  };
  for (const auto& [re, to] : rules)
    if (std::regex_match(n, re)) return std::regex_replace(n, re, to);
  return n;
}

}  // namespace mvb::nn
