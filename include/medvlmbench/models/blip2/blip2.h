// BLIP-2 (transformers' Blip2ForConditionalGeneration and Blip2ForImageTextRetrieval) over the shared
// pieces: the BLIP-2 vision tower (models/blip/vision.h, EVA ViT-g/14 for the published checkpoints),
// the Q-Former with its learned query tokens (qformer.h), and for generation the language projection
// and OPT (opt.h) driven by the one generation engine.
//
//   Blip2Net                        module names = the checkpoints' (both layouts load under them)
//   ├── vision_model                blip::VisionModel
//   ├── query_tokens                [1, Q, qformer hidden]
//   ├── qformer                     QFormerModel
//   ├── language_projection         Linear(qformer hidden -> OPT hidden)         (generation)
//   ├── language_model              opt::OptForCausalLM                          (generation)
//   └── embeddings, vision_projection, text_projection, itm_head               (image-text retrieval)
//
// As the reference runs it (GENERATIVE.md 1.4, model/blip2.py): prompt "Question: {q} Answer:", the
// processor puts num_query_tokens <image> ids before the tokenizer's ids (BOS first), the projected
// query outputs replace the <image> embeddings, greedy decoding with 768 new tokens. The reference's
// output string also holds the prompt (transformers returns the prompt ids of decoder-only BLIP-2):
// we answer with the new text only, and --reference_compat blip2_prompt_echo gives the reference's.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "medvlmbench/models/blip/vision.h"
#include "medvlmbench/models/blip2/opt.h"
#include "medvlmbench/models/blip2/qformer.h"
#include "medvlmbench/models/local_vlm.h"
#include "medvlmbench/vision/image.h"

namespace mvb::blip2 {

// Blip2Config (config.json) with transformers' defaults for absent keys.
struct Config {
  std::string model_type;
  std::vector<std::string> architectures;
  blip::VisionConfig vision;
  QFormerConfig qformer;
  nlohmann::json text_config;  // the language model's config (null when the file has none)
  int64_t num_query_tokens = 32;
  int64_t image_token_index = -1;  // -1 = none (old configs: the queries are put before the text)
  int64_t image_text_hidden_size = 256;

  static Config from_json(const nlohmann::json& j, const std::string& where);
  static Config load(const std::string& model_dir);  // <model_dir>/config.json
};

// The processor's image settings: preprocessor_config.json (the Hub layout) or the "image_processor"
// object of processor_config.json (what transformers 5 save_pretrained writes), and num_query_tokens.
struct ProcessorConfig {
  ImageTransform transform;
  int64_t num_query_tokens = -1;  // -1 = processor_config.json does not say
};
ProcessorConfig load_processor_config(const std::string& model_dir);

// The query tokens through the Q-Former against the image ([B, S, E] vision last_hidden_state):
// [B, Q, qformer hidden], as Blip2ForConditionalGeneration.get_image_features / the ITC image branch.
// Shared with XrayGPT (MiniGPT-4's Q-Former is the same module).
at::Tensor query_features(QFormerModel& qformer, const at::Tensor& query_tokens, const at::Tensor& image_embeds);

// What of the checkpoint to build.
struct NetParts {
  bool language_model = false;  // language_projection + OPT
  bool retrieval = false;       // embeddings, vision_projection, text_projection, itm_head
};

class Blip2NetImpl : public torch::nn::Module {
 public:
  Blip2NetImpl(const Config& c, const NetParts& parts);
  Config cfg;
  NetParts parts;
  blip::VisionModel vision_model{nullptr};
  at::Tensor query_tokens;
  QFormerModel qformer{nullptr};
  nn::Linear language_projection{nullptr};
  opt::OptForCausalLM language_model{nullptr};
  QFormerTextEmbeddings embeddings{nullptr};
  nn::Linear vision_projection{nullptr}, text_projection{nullptr}, itm_head{nullptr};

  // Moves the parts to `device`: the Q-Former, query tokens and ITC text embeddings in float32 (as
  // transformers' _keep_in_fp32_modules), everything else in `dtype`.
  void place(c10::Device device, at::ScalarType dtype);
  // pixel_values [B, 3, S, S] -> the vision tower's last_hidden_state.
  at::Tensor image_embeds(const at::Tensor& pixel_values);
  // -> language_projection(Q-Former query outputs) [B, Q, OPT hidden] (get_image_features().pooler_output).
  at::Tensor language_inputs(const at::Tensor& pixel_values);
};
TORCH_MODULE(Blip2Net);

// Reads the checkpoint in `dir` into a Blip2Net with `parts` (config.json, safetensors or .bin, shards),
// in `dtype` on `device`; the Q-Former and query tokens stay float32 as transformers keeps them
// (_keep_in_fp32_modules). Either layout loads: transformers 5 (qkv.bias) and the Hub's 4.x
// (self_attn.q_bias / v_bias, language_model.lm_head.weight of a tied head, the Q-Former's unused text
// FFN); checkpoint tensors of parts not built are skipped.
Blip2Net load_net(const std::string& dir, const Config& cfg, const NetParts& parts, c10::Device device,
                  at::ScalarType dtype);

// Blip2ForConditionalGeneration with an OPT language model, as a local generative model
// (registry name "BLIP2-2.7b"; tasks vqa and caption).
class Blip2Model : public LocalVlm {
 public:
  explicit Blip2Model(const ModelSpec& spec);
  nlohmann::json describe() const override;

  struct Input {
    nn::MultimodalInput chunks;      // the projected queries (image chunk), then BOS + prompt ids
    std::string prompt_text;         // "Question: {q} Answer:"
    std::vector<int64_t> input_ids;  // transformers' input_ids: Q <image> ids, then the tokenizer's
    at::Tensor pixel_values;         // [3, S, S] float32
  };
  Input process(const GenerationRequest& request);
  // Teacher-forced logits over the whole prompt, [L, vocab] float32 (forward().logits).
  at::Tensor forward_logits(const Input& input);
  nn::GenerationConfig generation_config(const GenerationRequest& request) const override;

  Blip2Net& net() { return net_; }
  const Config& config() const { return cfg_; }
  const text::Tokenizer& text_tokenizer() const { return *tokenizer_; }
  static constexpr const char* kPromptEchoQuirk = "blip2_prompt_echo";

 protected:
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override;
  nn::GenerationBackend& backend() override { return *backend_; }
  const text::Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  std::string dir_;
  Config cfg_;
  ProcessorConfig proc_;
  nn::GenerationConfig gen_defaults_;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  int64_t image_token_id_ = -1;
  Blip2Net net_{nullptr};
  std::unique_ptr<opt::OptBackend> backend_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
};

// The reference's VQA prompt: "Question: {q} Answer:".
std::string vqa_prompt(const std::string& question);

// BLIP-2 as a diagnosis backbone (Blip2ForImageTextRetrieval: the vision class token for lp / img-lora-lp,
// the Q-Former ITC for clip-zs); what the registry's factory builds when ModelSpec::task is diagnosis.
std::unique_ptr<Model> make_diagnosis_model(const ModelSpec& spec);

}  // namespace mvb::blip2
