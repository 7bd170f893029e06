// Swin Transformer (Liu et al. 2021) as Hugging Face's SwinModel computes it: the vision tower of
// MedCLIP (microsoft/swin-tiny-patch4-window7-224). Module names are SwinModel's own
// (embeddings.patch_embeddings.projection, encoder.layers.N.blocks.M.attention.self.query, ...,
// encoder.layers.N.downsample.reduction, layernorm), so a SwinModel state dict loads by name.
//
// Behaviour copied from transformers' modeling_swin.py, including its edge cases:
//   - pixels are zero-padded right/bottom to a multiple of the patch size;
//   - each block pads its (layer-normed) feature map right/bottom to a multiple of the window, and the
//     padded tokens take part in attention (only the shifted-window regions are masked, with -100);
//   - a stage whose feature map is no larger than the window uses one window and no shift;
//   - patch merging pads odd sizes and concatenates (0,0), (1,0), (0,1), (1,1) neighbours;
//   - embeddings.norm and downsample.norm use LayerNorm's default eps (1e-5), blocks and the final
//     layernorm use config.layer_norm_eps; pooler_output is the mean over the final tokens.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/nn/activation.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::nn {

struct SwinOptions {
  int64_t image_size = 224;
  int64_t patch_size = 4;
  int64_t channels = 3;
  int64_t embed_dim = 96;
  std::vector<int64_t> depths{2, 2, 6, 2};
  std::vector<int64_t> num_heads{3, 6, 12, 24};
  int64_t window_size = 7;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  Activation act = Activation::kGelu;
  double eps = 1e-5;  // config.layer_norm_eps
  // From a SwinConfig config.json. Missing keys keep swin-tiny values; unsupported options
  // (absolute position embeddings, non-square sizes) are refused with an error naming `source`.
  static SwinOptions from_config(const nlohmann::json& cfg, const std::string& source);
  // Width of the final stage (embed_dim * 2^(stages-1)): the pooled feature size.
  int64_t num_features() const;
};

class SwinSelfAttentionImpl : public torch::nn::Module {
 public:
  SwinSelfAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias);
  // windows [B*nW, window*window, C]; mask [nW, N, N] additive or undefined.
  at::Tensor forward(const at::Tensor& windows, const at::Tensor& mask);
  int64_t heads, window;
  at::Tensor relative_position_bias_table;  // [(2w-1)^2, heads]
  at::Tensor relative_position_index;       // [w*w, w*w] int64, not registered (.to(dtype) would cast it)
  Linear query{nullptr}, key{nullptr}, value{nullptr};
};
TORCH_MODULE(SwinSelfAttention);

// HF's SwinSelfOutput / SwinIntermediate / SwinOutput each wrap one Linear called "dense".
class SwinDenseImpl : public torch::nn::Module {
 public:
  SwinDenseImpl(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x) { return dense->forward(x); }
  Linear dense{nullptr};
};
TORCH_MODULE(SwinDense);

class SwinAttentionImpl : public torch::nn::Module {
 public:
  SwinAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias);
  SwinSelfAttention self{nullptr};
  SwinDense output{nullptr};
};
TORCH_MODULE(SwinAttention);

class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(const SwinOptions& o, int64_t dim, int64_t heads, int64_t shift);
  // x [B, H*W, C] -> [B, H*W, C]
  at::Tensor forward(const at::Tensor& x, int64_t height, int64_t width);
  int64_t window, shift;
  Activation act;
  torch::nn::LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  SwinAttention attention{nullptr};
  SwinDense intermediate{nullptr}, output{nullptr};
};
TORCH_MODULE(SwinBlock);

class SwinPatchMergingImpl : public torch::nn::Module {
 public:
  explicit SwinPatchMergingImpl(int64_t dim);
  // x [B, H*W, C] -> [B, ceil(H/2)*ceil(W/2), 2C]
  at::Tensor forward(const at::Tensor& x, int64_t height, int64_t width);
  Linear reduction{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(SwinPatchMerging);

class SwinStageImpl : public torch::nn::Module {
 public:
  SwinStageImpl(const SwinOptions& o, int64_t dim, int64_t depth, int64_t heads, bool downsample);
  // Runs the blocks, then merges patches (height/width become the merged sizes).
  at::Tensor forward(at::Tensor x, int64_t& height, int64_t& width);
  torch::nn::ModuleList blocks{nullptr};
  std::vector<SwinBlock> typed_blocks;
  SwinPatchMerging downsample{nullptr};
};
TORCH_MODULE(SwinStage);

class SwinPatchEmbeddingsImpl : public torch::nn::Module {
 public:
  SwinPatchEmbeddingsImpl(int64_t channels, int64_t dim, int64_t patch);
  torch::nn::Conv2d projection{nullptr};
};
TORCH_MODULE(SwinPatchEmbeddings);

class SwinEmbeddingsImpl : public torch::nn::Module {
 public:
  SwinEmbeddingsImpl(int64_t channels, int64_t dim, int64_t patch);
  SwinPatchEmbeddings patch_embeddings{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(SwinEmbeddings);

class SwinEncoderImpl : public torch::nn::Module {
 public:
  explicit SwinEncoderImpl(const SwinOptions& o);
  torch::nn::ModuleList layers{nullptr};
  std::vector<SwinStage> typed_layers;
};
TORCH_MODULE(SwinEncoder);

struct SwinFeatures {
  at::Tensor last_hidden_state;  // [B, L, C] after the final layernorm
  at::Tensor pooled;             // [B, C] pooler_output (mean over tokens)
};

class SwinModelImpl : public torch::nn::Module {
 public:
  explicit SwinModelImpl(const SwinOptions& o);
  SwinFeatures forward(const at::Tensor& pixel_values);

  SwinOptions opts;
  SwinEmbeddings embeddings{nullptr};
  SwinEncoder encoder{nullptr};
  torch::nn::LayerNorm layernorm{nullptr};
};
TORCH_MODULE(SwinModel);

// Maps a SwinModel checkpoint name (without outer prefix) to this module's name: identical, except
// that the relative_position_index buffers (recomputed here) and attention-mask buffers are skipped.
std::optional<std::string> swin_checkpoint_name(const std::string& hf_name);

}  // namespace mvb::nn
