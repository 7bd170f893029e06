// The native-resolution vision tower of Qwen2-VL and Qwen2.5-VL with its 2x2 patch merger, as
// transformers' Qwen2VisionTransformerPretrainedModel / Qwen2_5_VisionTransformerPretrainedModel
// compute it, under the checkpoints' module names (relative to "visual."):
//
//   patch_embed.proj.weight   Conv3d(3, width, [2, 14, 14]) without bias: a Linear over flattened patches
//   blocks.N.norm1 / norm2    LayerNorm eps 1e-6 (Qwen2-VL) or RMSNorm (Qwen2.5-VL)
//   blocks.N.attn.qkv / proj  attention with 2-D rotary positions (row, column of each patch)
//   blocks.N.mlp              fc1 -> act -> fc2 (Qwen2-VL, quick_gelu) or gate/up/down with bias (SwiGLU)
//   merger.ln_q, merger.mlp.0 / mlp.2   norm -> 4 neighbouring patches concatenated -> Linear -> GELU -> Linear
//
// Qwen2.5-VL attends within windows of window_size pixels except in fullatt_block_indexes: its
// patches are reordered window by window before the blocks and the merged tokens put back after.
// Input: the processor's flattened patches [patches, 3 * 2 * 14 * 14] of one or more images and their
// grids (t, h, w); each image (each frame) attends only to itself. Output: merged tokens
// [sum(t * h * w / 4), out_hidden_size] in the images' order.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>

#include <array>
#include <vector>

#include "medvlmbench/models/qwen2_vl/config.h"
#include "medvlmbench/nn/linear.h"

namespace mvb::qwen2_vl {

using Grid = std::array<int64_t, 3>;  // image_grid_thw of one image

// Rotary (row, column) of every patch in the processor's order (2x2 merge blocks row-major, the patches
// of a block row-major inside it): [patches, 2], as transformers' get_vision_position_ids.
at::Tensor vision_position_ids(const std::vector<Grid>& grids, int64_t merge_size);

// Qwen2.5-VL's get_vision_window_index: the merge-unit order window by window ([merged tokens]) and the
// cumulative patch counts of the windows (duplicates removed).
struct WindowIndex {
  at::Tensor index;                 // int64 [sum(t * h * w) / merge^2]
  std::vector<int64_t> cu_seqlens;  // in patches, starting at 0
};
WindowIndex vision_window_index(const std::vector<Grid>& grids, int64_t merge_size, int64_t window_size,
                                int64_t patch_size);

class VisionNormImpl : public torch::nn::Module {
 public:
  VisionNormImpl(int64_t dim, bool rms, double eps = 1e-6);
  at::Tensor forward(const at::Tensor& x);
  bool rms;
  double eps;
  at::Tensor weight, bias;  // bias: LayerNorm only
};
TORCH_MODULE(VisionNorm);

class VisionBlockImpl : public torch::nn::Module {
 public:
  explicit VisionBlockImpl(const VisionConfig& c);
  // x [S, width]; cos/sin [S, head_dim]; cu_seqlens: attention segments (in rows of x).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const std::vector<int64_t>& cu_seqlens);
  VisionConfig cfg;
  VisionNorm norm1{nullptr}, norm2{nullptr};
  nn::Linear qkv{nullptr}, proj{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};                                // Qwen2-VL
  nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};  // Qwen2.5-VL
};
TORCH_MODULE(VisionBlock);

class VisionTowerImpl : public torch::nn::Module {
 public:
  explicit VisionTowerImpl(const VisionConfig& c);
  // patches [P, in_channels * temporal * patch^2] (any float dtype) -> merged tokens in the module's dtype.
  at::Tensor forward(const at::Tensor& patches, const std::vector<Grid>& grids);
  VisionConfig cfg;
  at::Tensor patch_weight;  // patch_embed.proj.weight [width, 3, t, p, p]
  torch::nn::ModuleList blocks{nullptr};
  std::vector<VisionBlock> typed_blocks;
  VisionNorm ln_q{nullptr};
  nn::Linear merger_fc1{nullptr}, merger_fc2{nullptr};  // merger.mlp.0, merger.mlp.2
  at::Tensor inv_freq;                                  // [head_dim / 4]
};
TORCH_MODULE(VisionTower);

}  // namespace mvb::qwen2_vl
