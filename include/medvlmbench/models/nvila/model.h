// NVILA (Efficient-Large-Model/NVILA-8B: SigLIP so400m at 448 with dynamic S2, the mlp_downsample_2x2_fix
// projector, a Qwen2-7B decoder) as a local generative model: registry name "NVILA", tasks vqa and caption,
// run as the reference's model/vila.py runs it (GENERATIVE.md 1.13-1.15): VILA.load_from_pretrained then
// LlavaLlamaModel.generate_content([image, question]).
//
//   checkpoint   the published VILA layout (models/vila/layout.h: config.json + llm/ + vision_tower/ +
//                mm_projector/), image_aspect_ratio "dynamic_s2" (or "resize": see below) with dynamic_s2 true;
//   vocabulary   the reference adds <vila/sentinel>, <image> and <vila/video> to the tokenizer when absent and
//                resizes the LLM's embeddings and head to len(tokenizer): rows beyond it are dropped here too
//                (the logits have len(tokenizer) entries). When len(tokenizer) exceeds the checkpoint's vocabulary
//                the reference adds randomly drawn rows (transformers' mean resizing samples them), which cannot
//                be reproduced: those ids are never produced here (describe() says so);
//   image        one per request (model/vila.py passes exactly one; none or several are refused):
//                processor.h's dynamic-S2 tiles -> SigLIP hidden_states[mm_vision_select_layer] per tile ->
//                merge_s2_features -> split into (rows x cols) blocks -> projector (2x2 -> LN -> Linear -> GELU ->
//                Linear) -> blocks merged back: (tile / patch / 2)^2 tokens per last-scale tile, followed by the
//                embeddings of tokenizer(end_tokens="\n") (BasicImageEncoder);
//   prompt       processor.h's render_prompt over the llm tokenizer's chat template, tokenized whole (no BOS for
//                Qwen2), the <image> token's position taking the image's embeddings;
//   generation   model.default_generation_config: transformers' GenerationConfig() (greedy) with max_length =
//                the tokenizer's model_max_length, eos = tokenizer.stop_token_ids (the eos token and the
//                template's end-of-turn token), then llm.generate() folding in llm/generation_config.json's
//                non-default values only when it was written by transformers >= 4.50 (the published one, 4.46,
//                contributes nothing). Generating from inputs_embeds, max_length counts new tokens after the
//                prompt: max_new_tokens = model_max_length - prompt positions (capped by the LLM's
//                max_position_embeddings when the tokenizer gives no model_max_length).
//
// image_aspect_ratio "resize" (a quirk of the reference's training: run_train's NVILA branch saves the tuned
// config with "resize", GENERATIVE.md 3 item 12; training is not ported here) is read as the reference reads such
// a checkpoint: one tile of scales[0] (PIL bicubic resize of the whole image), its feature map repeated once
// per scale on channels, one block of (tile / patch / 2)^2 tokens.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/models/nvila/processor.h"
#include "medvlmbench/models/vila/layout.h"
#include "medvlmbench/nn/generation.h"

namespace mvb::nvila {

class NvilaModel : public LocalVlm {
 public:
  explicit NvilaModel(const ModelSpec& spec);

  nlohmann::json describe() const override;

  struct Input {
    nn::MultimodalInput chunks;
    std::string prompt_text;
    std::vector<int64_t> input_ids;  // tokenize_conversation's ids, the <image> token included
    at::Tensor pixel_values;         // [tiles, 3, S, S]
    int64_t rows = 0, cols = 0;      // the last scale's grid (0, 0 on the resize path)
    int64_t positions = 0;           // prompt positions (image embeddings included)
  };
  Input process(const GenerationRequest& request);
  // [tiles, 3, S, S] pixels of one image and its grid (rows = cols = 0 on the resize path).
  Input pixels(const RgbImage& img) const;
  // merge_features_for_dynamic_s2 of one image: [1, scales * C, H, W].
  at::Tensor s2_features(const at::Tensor& pixel_values, int64_t rows, int64_t cols);
  // encode_images for one image: [tokens, D].
  at::Tensor image_features(const at::Tensor& pixel_values, int64_t rows, int64_t cols);
  // Teacher-forced logits over the prompt (image embeddings spliced in), [positions, vocab] float32.
  at::Tensor forward_logits(const Input& input);
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;
  nn::GenerationBackend& language_backend() { return *backend_; }

  const vila::VilaConfig& config() const { return cfg_; }
  const std::vector<int64_t>& stop_token_ids() const { return stop_ids_; }
  int64_t vocab_rows() const { return vocab_rows_; }
  int64_t image_token_id() const { return image_token_id_; }

 protected:
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  nn::GenerationBackend& backend() override { return *backend_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  std::string dir_;
  vila::VilaConfig cfg_;
  std::vector<int64_t> scales_;
  int64_t resize_idx_ = -1;
  bool resize_path_ = false;  // image_aspect_ratio "resize"
  ChatTemplate template_;
  std::vector<int64_t> end_ids_, start_ids_;  // BasicImageEncoder's token ids after / before each image
  std::vector<int64_t> stop_ids_;
  int64_t image_token_id_ = -1;
  int64_t tokenizer_len_ = 0;  // len(tokenizer) after the reference's additions
  int64_t vocab_rows_ = 0;     // tokenizer_len_ capped by the checkpoint's vocabulary
  int64_t model_max_length_ = 0;
  nn::GenerationConfig gen_defaults_;
  nlohmann::json gen_sources_;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  vila::VilaNet net_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  // Prompt positions of the requests prepare() last saw, for generation_config()'s max_length budget.
  mutable std::map<const GenerationRequest*, int64_t> positions_;
};

}  // namespace mvb::nvila
