// Vision Transformer tower covering the three published variants we load:
//   CLIP (HF):  class token, patch conv without bias, pre-LN on embeddings, LN on the pooled token;
//   SigLIP:     no class token, patch conv with bias, LN on all tokens, attention-pooling head (MAP);
//   timm ViT:   class token, patch conv with bias, final LN, class-token pooling (BioMedCLIP).
// Sizes come from the checkpoint's config; module names are transformers' CLIPVisionTransformer /
// SiglipVisionTransformer names (embeddings.*, pre_layrnorm, encoder.layers.N.*, post_layernorm, head),
// so HF checkpoints load under their own names.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include "medvlmbench/nn/embedding.h"
#include "medvlmbench/nn/transformer.h"

namespace mvb::nn {

struct VisionTransformerOptions {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t channels = 3;
  TransformerLayerOptions layer;
  int64_t num_layers = 12;
  bool class_token = true;
  bool patch_bias = false;
  bool pre_norm = false;        // LN on the embeddings before the encoder (CLIP's pre_layrnorm)
  bool final_norm = true;       // LN after the encoder (post_layernorm / norm)
  bool attention_pool = false;  // SigLIP multihead attention pooling head instead of the class token
  // Whether the published model keeps the position table in an nn.Embedding (HF CLIP / SigLIP: PEFT's
  // LoRA adapts it) or in an nn.Parameter (timm's pos_embed: PEFT leaves it alone).
  bool position_embedding_module = true;
};

// SigLIP's SiglipMultiheadAttentionPoolingHead: a learned probe attends over the tokens.
class AttentionPoolHeadImpl : public torch::nn::Module {
 public:
  explicit AttentionPoolHeadImpl(const TransformerLayerOptions& o);
  at::Tensor forward(const at::Tensor& tokens);  // [B, L, D] -> [B, D]
  at::Tensor probe;
  MultiHeadAttention attention{nullptr};
  torch::nn::LayerNorm layernorm{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(AttentionPoolHead);

// CLIPVisionEmbeddings / SiglipVisionEmbeddings: patch conv, class token, learned position table.
class VisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit VisionEmbeddingsImpl(const VisionTransformerOptions& o);
  at::Tensor forward(const at::Tensor& pixel_values);  // [N, C, H, W] -> [N, L, D]
  torch::nn::Conv2d patch_embedding{nullptr};
  at::Tensor class_embedding;             // [D] when class_token
  Embedding position_embedding{nullptr};  // [num_positions, D]
};
TORCH_MODULE(VisionEmbeddings);

struct VisionOutput {
  at::Tensor last_hidden_state;  // [B, L, D], after the final norm when it applies to all tokens
  at::Tensor pooled;             // [B, D]
};

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const VisionTransformerOptions& o);
  VisionOutput forward(const at::Tensor& pixel_values);
  // transformers' hidden_states[index] (output_hidden_states=True): index 0 is the embeddings after
  // pre_layrnorm, i the output of layer i - 1; negative indices count from the end as in Python
  // (LLaVA's mm_vision_select_layer = -2: the input of the last layer). Runs only the layers needed.
  at::Tensor hidden_state(const at::Tensor& pixel_values, int64_t index);
  int64_t num_patches() const { return (opts.image_size / opts.patch_size) * (opts.image_size / opts.patch_size); }

  VisionTransformerOptions opts;
  VisionEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr}, post_layernorm{nullptr};
  TransformerEncoder encoder{nullptr};
  AttentionPoolHead head{nullptr};
};
TORCH_MODULE(VisionTransformer);

}  // namespace mvb::nn
