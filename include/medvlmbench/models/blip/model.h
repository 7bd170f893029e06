// BLIP (Salesforce/blip-*) as the reference uses it, over transformers' BLIP classes:
//
// - vqa / caption (model/blip.py BLIPForQA: Salesforce/blip-vqa-base): BlipForQuestionAnswering.
//   The image (BlipImageProcessor: 384 x 384 bicubic, CLIP mean/std) goes through the ViT; the
//   question ([CLS] q [SEP], BertTokenizer) through text_encoder with cross-attention to every image
//   token; text_decoder then generates from [DEC] (bos_token_id) with cross-attention to the question
//   encoding, greedy, until [SEP], max_length 768 (the reference's; positions stop at
//   max_position_embeddings), decoded with skip_special_tokens and stripped. Batched: the reference
//   passes a 3-D pixel tensor (no batch dimension) and fails on every sample (GENERATIVE.md 3.2); here
//   each request is one batch row, and padded questions are masked in the decoder's cross-attention
//   (transformers' generate attends to every question position, padding included: identical for
//   batch 1, which is all the reference runs).
// - diagnosis (model/blip.py BLIPLPForDiagnosis / BLIPForDiagnosis): lp and img-lora-lp take the
//   vision tower's last_hidden_state[:, 0] (the class token after post_layernorm, hidden_size wide);
//   clip-zs / clip-img-lora score with an image-text head: BlipForImageTextRetrieval's ITC
//   (use_itm_head=False: normalize(vision_proj(image CLS)) . normalize(text_proj(text_encoder CLS)),
//   unscaled) or BlipModel's (visual_projection(pooler) . text_projection(text pooler) * exp(logit_scale)).
//   A checkpoint without either is refused for those usages (the reference loads BlipModel from
//   blip-image-captioning-base, which holds neither head nor text tower: transformers initialises them
//   at random).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/models/blip/text.h"
#include "medvlmbench/models/blip/vision.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/vision/image.h"

namespace mvb::blip {

// config.json of a BlipConfig checkpoint (model_type "blip").
struct BlipConfig {
  VisionConfig vision;
  TextConfig text;
  int64_t image_text_hidden_size = 256;  // BlipForImageTextRetrieval's vision_proj / text_proj width
  int64_t projection_dim = 512;          // BlipModel's visual_projection / text_projection width
  std::vector<std::string> architectures;
  static BlipConfig load(const std::string& dir);
};

// BlipImageProcessor as the checkpoint configures it (preprocessor_config.json), else its defaults
// (the vision config's image_size square, bicubic, CLIP mean/std).
ImageTransform blip_image_transform(const std::string& dir, const VisionConfig& vision);

// BlipForQuestionAnswering's modules.
class VqaNetImpl : public torch::nn::Module {
 public:
  explicit VqaNetImpl(const BlipConfig& c);
  VisionModel vision_model{nullptr};
  TextModel text_encoder{nullptr};
  TextLMHeadModel text_decoder{nullptr};
};
TORCH_MODULE(VqaNet);

// The answer decoder as the generation engine drives it: each input carries its question encoding
// (InputChunk::cross_states / cross_mask), whose per-layer keys and values are computed once per batch.
class AnswerDecoderBackend : public nn::GenerationBackend {
 public:
  explicit AnswerDecoderBackend(TextLMHeadModel decoder) : decoder_(std::move(decoder)) {}
  at::Tensor embed_tokens(const at::Tensor& ids) override;
  at::Tensor forward_last(const nn::DecoderInputs& in, nn::KVCache& cache) override;
  nn::KVCache make_cache(int64_t batch, int64_t capacity) override;
  void begin_batch(const std::vector<nn::MultimodalInput>& inputs) override;
  void select_rows(const std::vector<int64_t>& rows) override;
  c10::Device device() const override;
  at::ScalarType dtype() const override;

 private:
  TextLMHeadModel decoder_;
  CrossStates cross_;
};

class BlipVqaModel : public LocalVlm {
 public:
  explicit BlipVqaModel(const ModelSpec& spec);
  nlohmann::json describe() const override;

  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;
  nn::GenerationBackend& backend() override { return *backend_; }

  // The pieces, for tests and tools. Question ids as the reference tokenizes them (no padding).
  std::vector<int64_t> question_ids(const std::string& question) const;
  const ImageTransform& transform() const { return transform_; }
  // text_encoder(input_ids, attention_mask, encoder_hidden_states = the image tokens) for a batch of
  // images [B, 3, S, S] and padded questions [B, L]: last_hidden_state [B, L, D].
  at::Tensor encode_questions(const at::Tensor& pixel_values, const at::Tensor& input_ids,
                              const at::Tensor& attention_mask);
  // text_decoder logits [B, T, vocab] for decoder_input_ids [B, T] (teacher forcing, causal), with
  // cross-attention to `question_states` under `question_mask` ([B, L] 1/0, undefined = all).
  at::Tensor decoder_logits(const at::Tensor& question_states, const at::Tensor& question_mask,
                            const at::Tensor& decoder_input_ids);
  const BlipConfig& config() const { return cfg_; }
  VqaNet& net() { return net_; }

 private:
  std::string dir_;
  c10::Device device_;
  at::ScalarType dtype_;
  BlipConfig cfg_;
  VqaNet net_{nullptr};
  std::unique_ptr<AnswerDecoderBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  ImageTransform transform_;
  std::string source_;
  int64_t max_question_tokens_ = 512;
};

// The diagnosis towers (see the file comment for which features each usage gets).
class BlipTowers : public ContrastiveTowers {
 public:
  enum class Head { kNone, kItc, kBlipModel };
  explicit BlipTowers(const ModelSpec& spec);

  at::Tensor image_features(const at::Tensor& pixel_values) override;
  at::Tensor text_features(const TextBatch& batch) override;
  TextBatch tokenize(const std::vector<std::string>& texts) const override;
  torch::nn::Module& vision_tower() override { return *vision_; }
  torch::nn::Module& root() override { return *root_; }
  // Our vision tower's module names are those of transformers' BlipVisionModel.
  std::optional<std::string> peft_module_name(const std::string& ours) const override { return ours; }
  nlohmann::json describe() const override;
  // Which image-text head the checkpoint has, and whether the features are projected (clip-zs,
  // clip-img-lora) rather than the class token (lp, img-lora-lp).
  Head head() const { return head_; }
  bool projected() const { return projected_; }

 private:
  BlipConfig cfg_;
  Head head_ = Head::kNone;
  bool projected_ = false;
  std::shared_ptr<torch::nn::Module> root_;
  VisionModel vision_{nullptr};
  TextModel text_{nullptr};
  nn::Linear vision_proj_{nullptr}, text_proj_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t max_len_ = 512;
};

}  // namespace mvb::blip
