// SigLIP in the Hugging Face layout (google/siglip-*, google/medsiglip-448), following transformers'
// modeling_siglip.py: ViT without class token (patch conv with bias), LN over all tokens, a
// multihead-attention pooling head (its nn.MultiheadAttention in_proj kept fused, as PEFT sees it);
// a bidirectional text transformer pooled at the LAST position, then a Linear head; get_image_features
// is the pooled output itself; logits = exp(logit_scale) * cos + logit_bias, read with a sigmoid.
// As the reference (MedSigLIPForDiagnosis), prompts are padded to the longest and encoded without an
// attention mask (SiglipTokenizer returns input_ids only).
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/clip_configs.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/text_transformer.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/nn/weights.h"

namespace mvb {
namespace {

struct SiglipNetImpl : torch::nn::Module {
  SiglipNetImpl(const nn::TextTransformerOptions& t, const nn::VisionTransformerOptions& v) {
    text_model = register_module("text_model", nn::TextTransformer(t));
    vision_model = register_module("vision_model", nn::VisionTransformer(v));
    logit_scale = register_parameter("logit_scale", at::zeros({1}));
    logit_bias = register_parameter("logit_bias", at::zeros({1}));
  }
  nn::TextTransformer text_model{nullptr};
  nn::VisionTransformer vision_model{nullptr};
  at::Tensor logit_scale, logit_bias;
};
TORCH_MODULE(SiglipNet);

class SiglipModel : public ContrastiveTowers {
 public:
  explicit SiglipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    const SiglipConfig cfg = SiglipConfig::read(checkpoint_dir_);
    const nn::TextTransformerOptions topts = cfg.text_config.tower();
    const nn::VisionTransformerOptions vopts = cfg.vision_config.tower();
    MVB_CHECK(vopts.attention_pool, io::join_path(checkpoint_dir_, "config.json"),
              ": SigLIP checkpoints without the attention-pooling head (vision_use_head=false) are not supported");
    MVB_CHECK(topts.head_dim == vopts.layer.dim, io::join_path(checkpoint_dir_, "config.json"),
              ": SigLIP text projection_size ", topts.head_dim, " differs from the vision width ", vopts.layer.dim);
    net_ = SiglipNet(topts, vopts);
    // Our module names are transformers' SiglipModel names.
    io::StateDict sd = io::StateDict::open(checkpoint_dir_);
    nn::assign_weights(*net_, nn::read_weights(sd, nn::drop_position_ids), sd.source());
    // transformers has only the slow SiglipTokenizer (spiece.model): AutoTokenizer takes it even when
    // the folder also holds a tokenizer.json, so ours does too.
    const std::string spiece = io::join_path(checkpoint_dir_, "spiece.model");
    tokenizer_ = io::exists(spiece) ? text::load_sentencepiece_tokenizer(spiece, checkpoint_dir_)
                                    : text::load_tokenizer(checkpoint_dir_);
    max_len_ = std::min<int64_t>(topts.max_positions, tokenizer_->config().model_max_length);
    ImageTransform defaults;
    defaults.resize_mode = "exact";
    defaults.resize_width = defaults.resize_height = defaults.resize = static_cast<int>(vopts.image_size);
    defaults.crop = 0;
    defaults.mean = {0.5f, 0.5f, 0.5f};
    defaults.std = {0.5f, 0.5f, 0.5f};
    transform_ =
        transform_from_preprocessor_config(io::join_path(checkpoint_dir_, "preprocessor_config.json"), defaults);
    MVB_CHECK(transform_output_size(transform_) == vopts.image_size, "preprocessor_config.json gives ",
              transform_output_size(transform_), " but the vision tower expects ", vopts.image_size);
    embed_dim_ = vopts.layer.dim;
    finish_setup("SigLIP ViT-" + std::to_string(vopts.patch_size) + " (" + std::to_string(vopts.num_layers) + "L/" +
                 std::to_string(vopts.layer.dim) + ")");
    logit_scale_ = net_->logit_scale.to(at::kFloat).exp().item<double>();
    logit_bias_ = net_->logit_bias.to(at::kFloat).item<double>();
  }

  at::Tensor image_features(const at::Tensor& pixels) override {
    return net_->vision_model->forward(pixels.to(device_, dtype_)).pooled;
  }
  at::Tensor text_features(const TextBatch& b) override {
    // No attention mask, as the reference calls the model (see the file comment).
    return net_->text_model->forward(b.input_ids.to(device_));
  }
  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    return tokenize_batch(*tokenizer_, texts, max_len_);
  }
  double logit_bias() const override { return logit_bias_; }
  bool sigmoid_logits() const override { return true; }
  torch::nn::Module& vision_tower() override { return *net_->vision_model; }
  torch::nn::Module& root() override { return *net_; }
  // Our vision tower's module names are those of transformers' SiglipVisionTransformer.
  std::optional<std::string> peft_module_name(const std::string& ours) const override { return ours; }

 private:
  SiglipNet net_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t max_len_ = 64;
  double logit_bias_ = 0.0;
};

std::unique_ptr<Model> make_siglip(const ModelSpec& spec) { return std::make_unique<SiglipModel>(spec); }

}  // namespace

MVB_REGISTER(model_registry(), "SigLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "Google SigLIP (HF format, e.g. google/siglip-base-patch16-224)",
                        /*needs_checkpoint=*/true,
                        make_siglip,
                        "google/siglip-base-patch16-224"});
MVB_REGISTER(model_registry(), "MedSigLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "Google MedSigLIP (HF SigLIP format, google/medsiglip-448)",
                        /*needs_checkpoint=*/true,
                        make_siglip,
                        "google/medsiglip-448"});

}  // namespace mvb
