// XrayGPT (MiniGPT-4 with a radiology Vicuna) as the reference's model/xraygpt.py runs it
// (GENERATIVE.md 1.12), over the BLIP-2 pieces it shares and the LLaMA decoder:
//
//   XrayGptNet                 MiniGPT-4 name (checkpoint)           here
//   ├── vision_model           visual_encoder.* (EVA ViT-g/14)       blip::VisionModel
//   │   └── post_layernorm     ln_vision.* (LayerNorm, eps 1e-5)
//   ├── query_tokens           query_tokens [1, 32, 768]
//   ├── qformer                Qformer.bert.* (bert-base, cross-attention every 2nd layer; MiniGPT-4
//   │                          drops the word/position embeddings, the text FFNs and the cls head)
//   ├── llama_proj             llama_proj.* Linear(768 -> LLaMA hidden)
//   └── llama_model            llama_model.* = the Vicuna folder (nn::CausalLM, HF LLaMA names)
//
// Checkpoint folder (--model_path; the reference's ./pretrained_models/ plus LAVIS's two downloads):
//   xraygpt_pretrained1.pth          the MiniGPT-4 checkpoint: torch.save({"model": state_dict, ...})
//   eva_vit_g.pth                    LAVIS's EVA ViT-g (bare EVA names); also found in torch's hub cache
//   blip2_pretrained_flant5xxl.pth   LAVIS's BLIP-2 checkpoint ({"model": Qformer.*, query_tokens,
//                                    ln_vision.*}); also found in torch's hub cache
//   Vicuna_Radiology_fp16/           LlamaForCausalLM folder with the slow LlamaTokenizer (tokenizer.model)
//   xraygpt_config.json (optional)   other file names, and sizes for models other than the published one
// The weights load as the reference loads them, later sources overriding earlier ones (load_state_dict
// strict=False each time): the Vicuna folder, eva_vit_g.pth, the Q-Former init, then the MiniGPT-4
// checkpoint. Tensors none of our modules has are ignored (as strict=False does), but unlike the
// reference, which would run with randomly initialised modules, every parameter must come from one of
// the files: a missing one is an error naming it and the file that should hold it.
//
// Behaviour: prompt "###Patient: <Img><ImageHere></Img> {q}###Doctor:" split at <ImageHere>, both
// chunks tokenised without special tokens, a BOS embedding first and the 32 projected query outputs
// between them; Blip2ImageEvalProcessor (224 x 224 bicubic, OpenAI CLIP mean/std); sampling as the
// reference (top_p 0.9, temperature 1.0, top_k 50 from transformers' defaults, 300 new tokens),
// seeded per request, greedy with --temperature 0; the answer decoded with the special tokens kept,
// after dropping a leading <unk> and then a leading <s>, and cut as output.split('###')[0]
// .split('Doctor:')[-1].strip(). Generation stops once "###" was generated (the clean-up drops
// everything after it, so the answer is the same; the reference runs on to EOS or 300 tokens).
// Fixed quirks of the reference (each of which makes every sample raise there): the pixel tensor
// reaches encode_img without its batch dimension, prompt_wrap is handed a None mask, and under the
// reference's pinned transformers 4.53.1 the vendored LlamaForCausalLM has no generate() (GenerationMixin
// left PreTrainedModel in 4.50).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/blip/vision.h"
#include "medvlmbench/models/blip2/qformer.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/linear.h"
#include "medvlmbench/vision/image.h"

namespace mvb::xraygpt {

// The files of a checkpoint folder and the model's sizes (xraygpt_config.json over the published
// XrayGPT's: EVA ViT-g/14 at 224, bert-base Q-Former, 32 queries).
struct Config {
  std::string dir;
  std::string minigpt4_checkpoint;  // resolved paths
  std::string eva_vit;
  std::string qformer_init;
  std::string llama_dir;
  blip::VisionConfig vision;
  blip2::QFormerConfig qformer;
  int64_t num_query_token = 32;
  nn::DecoderOptions text;   // from the Vicuna folder's config.json
  ImageTransform transform;  // Blip2ImageEvalProcessor(image_size)

  // Reads <dir>/xraygpt_config.json when present and finds every file; throws naming the missing one.
  static Config load(const std::string& dir);
};

// MiniGPT-4 / LAVIS checkpoint name -> our module name (XrayGptNet), nullopt for tensors that are not
// ours (MiniGPT-4's dropped Q-Former parts, the BLIP-2 ITC/ITM heads, buffers). `eva_bare`: names of
// eva_vit_g.pth, which lack the "visual_encoder." prefix.
std::optional<std::string> module_name(const std::string& checkpoint_name, bool eva_bare = false);

class XrayGptNetImpl : public torch::nn::Module {
 public:
  explicit XrayGptNetImpl(const Config& c);
  Config cfg;
  blip::VisionModel vision_model{nullptr};
  at::Tensor query_tokens;
  blip2::QFormerModel qformer{nullptr};
  nn::Linear llama_proj{nullptr};
  nn::CausalLM llama_model{nullptr};

  // ln_vision(visual_encoder(pixels)) [B, 1 + patches, vision width] (float32).
  at::Tensor image_embeds(const at::Tensor& pixel_values);
  // encode_img: llama_proj(Q-Former query outputs) [B, Q, LLaMA hidden] in the LLaMA's dtype.
  at::Tensor encode_img(const at::Tensor& pixel_values);
};
TORCH_MODULE(XrayGptNet);

// The reference's clean-up of a decoded answer: s.split('###')[0].split('Doctor:')[-1].strip()
// (Python's str.strip: Unicode whitespace).
std::string clean_answer(const std::string& decoded);

// The reference's prompt around the image placeholder.
std::string prompt_text(const std::string& question);

class XrayGptModel : public LocalVlm {
 public:
  explicit XrayGptModel(const ModelSpec& spec);
  nlohmann::json describe() const override;

  struct Input {
    nn::MultimodalInput chunks;  // [BOS + before ids], the query embeddings, [after ids]
    std::string prompt_text;
    std::vector<int64_t> before_ids, after_ids;  // each chunk tokenised without special tokens
    at::Tensor pixel_values;                     // [3, S, S] float32
  };
  Input process(const GenerationRequest& request);
  // Teacher-forced logits [L + extra, vocab] (float32) of the prompt followed by `extra` ids.
  at::Tensor forward_logits(const Input& input, const std::vector<int64_t>& extra = {});
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;
  std::string decode_answer(const std::vector<int64_t>& ids) const override;

  XrayGptNet& net() { return net_; }
  const Config& config() const { return cfg_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }

 protected:
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  nn::GenerationBackend& backend() override { return *backend_; }

 private:
  Config cfg_;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  XrayGptNet net_{nullptr};
  std::unique_ptr<nn::CausalLMBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  nn::GenerationConfig gen_defaults_;
  std::string weights_;  // the files read, in load order
  int64_t ignored_ = 0;  // checkpoint tensors none of our modules has (strict=False's unexpected keys)
  int64_t bos_id_ = 1, eos_id_ = 2;
};

}  // namespace mvb::xraygpt
