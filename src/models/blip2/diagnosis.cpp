// BLIP-2 as a diagnosis backbone ("BLIP2-2.7b" with --task diagnosis), as the reference's
// model/blip2.py uses it (Blip2ForImageTextRetrieval, Salesforce/blip2-itm-vit-g):
//   lp / img-lora-lp   BLIP2LPForDiagnosis.encode_image = vision_model(x)[0][:, 0, :]: the class token of
//                      the vision tower's last_hidden_state (post_layernorm once), 1408-d for EVA ViT-g
//   clip-zs / clip-img-lora   BLIP2ForDiagnosis.forward = the Q-Former ITC: logits_per_image = the largest
//                      cosine over the 32 query embeddings (vision_projection, normalised) against the
//                      text's [CLS] (Q-Former text branch, text_projection, normalised); no temperature
// The prompts are tokenizer(texts, padding=True) without image placeholders (transformers 4.53, the
// reference's version, does not cut num_query_tokens ids off the text as 5.x does when the config has
// image_token_index). A checkpoint without the ITC heads (Blip2ForConditionalGeneration, e.g.
// blip2-opt-2.7b) serves lp and img-lora-lp; clip-zs on it is refused with what to use instead.
#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/blip2/blip2.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/models/model_task_entries.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb::blip2 {
namespace {

bool zero_shot_usage(const ModelSpec& spec) {
  const std::string usage = spec.options.is_object() ? spec.options.value("usage", std::string()) : std::string();
  return usage == "clip-zs" || usage == "clip-img-lora";
}

class Blip2Diagnosis : public ContrastiveTowers {
 public:
  explicit Blip2Diagnosis(const ModelSpec& spec) : ContrastiveTowers(spec), itc_(zero_shot_usage(spec)) {
    MVB_USAGE_CHECK(io::is_directory(checkpoint_dir_), "BLIP2-2.7b diagnosis needs --model_path pointing at a BLIP-2 ",
                    "checkpoint folder (the reference uses Salesforce/blip2-itm-vit-g); ", checkpoint_dir_,
                    " is not a folder");
    const Config cfg = Config::load(checkpoint_dir_);
    if (itc_) {
      const io::StateDict sd = io::StateDict::open(checkpoint_dir_);
      MVB_USAGE_CHECK(
          sd.contains("vision_projection.weight") && sd.contains("text_projection.weight") &&
              sd.contains("embeddings.word_embeddings.weight") && cfg.qformer.use_qformer_text_input,
          "--usage ", spec.options.value("usage", std::string()), " needs BLIP-2's image-text heads (",
          "Blip2ForImageTextRetrieval: Q-Former text input, embeddings, vision_projection, "
          "text_projection), which ",
          checkpoint_dir_, " does not have (",
          cfg.architectures.empty() ? std::string("no architectures in config.json") : cfg.architectures.front(),
          "); use the reference's Salesforce/blip2-itm-vit-g, or --usage lp / img-lora-lp");
    }
    net_ = load_net(checkpoint_dir_, cfg, NetParts{false, itc_}, device_, dtype_);
    transform_ = load_processor_config(checkpoint_dir_).transform;
    MVB_CHECK(transform_output_size(transform_) == cfg.vision.image_size, "the image processor of ", checkpoint_dir_,
              " gives ", transform_output_size(transform_), " px images but vision_config.image_size is ",
              cfg.vision.image_size);
    if (itc_) {
      tokenizer_ = text::load_tokenizer(checkpoint_dir_);
      max_len_ = cfg.qformer.max_position_embeddings;
    }
    embed_dim_ = itc_ ? cfg.image_text_hidden_size : cfg.vision.hidden_size;
    logit_scale_ = 1.0;  // Blip2ForImageTextRetrieval's ITC logits are plain cosines
    // finish_setup casts everything to the run's dtype; the Q-Former and its inputs are kept in
    // float32 as transformers keeps them (copies restored afterwards: no round trip through bf16).
    std::vector<std::pair<at::Tensor, at::Tensor>> fp32;
    for (auto& p : net_->qformer->parameters()) fp32.emplace_back(p, p.detach().clone());
    fp32.emplace_back(net_->query_tokens, net_->query_tokens.detach().clone());
    if (itc_)
      for (auto& p : net_->embeddings->parameters()) fp32.emplace_back(p, p.detach().clone());
    finish_setup(std::string("BLIP-2 ViT-") + std::to_string(cfg.vision.patch_size) + " (" +
                 std::to_string(cfg.vision.num_hidden_layers) + "L/" + std::to_string(cfg.vision.hidden_size) + ") " +
                 (itc_ ? "Q-Former ITC" : "vision class token"));
    for (auto& [p, copy] : fp32) p.set_data(copy);
  }

  at::Tensor image_features(const at::Tensor& pixels) override {
    const at::Tensor img = net_->image_embeds(pixels.to(device_, dtype_));
    if (!itc_) return img.select(1, 0);  // [N, D]: BLIP2LPForDiagnosis.encode_image
    const at::Tensor q = query_features(net_->qformer, net_->query_tokens, img);
    return net_->vision_projection->forward(q.to(net_->vision_projection->weight.scalar_type()));  // [N, Q, D]
  }

  at::Tensor text_features(const TextBatch& b) override {
    MVB_CHECK(itc_, "BLIP-2 text features are only built for --usage clip-zs / clip-img-lora");
    const at::Tensor e = net_->embeddings->forward(b.input_ids.to(device_));
    const at::Tensor h = net_->qformer->forward(e, b.attention_mask.to(device_), {}, 0);
    return net_->text_projection->forward(h.select(1, 0).to(net_->text_projection->weight.scalar_type()));
  }

  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    MVB_CHECK(tokenizer_ != nullptr, "BLIP-2 text features are only built for --usage clip-zs / clip-img-lora");
    return tokenize_batch(*tokenizer_, texts, max_len_);
  }

  torch::nn::Module& vision_tower() override { return *net_->vision_model; }
  torch::nn::Module& root() override { return *net_; }
  // Our vision tower's module names are transformers' Blip2VisionModel names (PEFT wraps vision_model).
  std::optional<std::string> peft_module_name(const std::string& ours) const override { return ours; }

 private:
  bool itc_;
  Blip2Net net_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t max_len_ = 512;
};

std::unique_ptr<Model> make_diagnosis(const ModelSpec& spec) { return std::make_unique<Blip2Diagnosis>(spec); }

}  // namespace
}  // namespace mvb::blip2

namespace mvb {

MVB_REGISTER(model_task_registry(), model_task_key("BLIP2-2.7b", "diagnosis"),
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "BLIP-2 image-text retrieval (HF Blip2ForImageTextRetrieval, Salesforce/blip2-itm-vit-g): "
                        "vision class token for lp / img-lora-lp, Q-Former ITC for clip-zs",
                        true,
                        blip2::make_diagnosis,
                        "Salesforce/blip2-itm-vit-g"});

}  // namespace mvb
