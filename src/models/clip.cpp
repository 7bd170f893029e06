// CLIP in the Hugging Face layout (config.json with text_config / vision_config, model.safetensors or
// pytorch_model.bin, CLIP BPE tokenizer files, preprocessor_config.json), following transformers'
// modeling_clip.py: ViT with class token and pre-LN, causal text transformer pooled at the end-of-text
// token, bias-free projections, logits = exp(logit_scale) * cos. The reference loads
// openai/clip-vit-base-patch32 (CLIP), vinid/plip (PLIP) and
// flaviagiammarino/pubmed-clip-vit-base-patch32 (PubMedCLIP), all in this format.
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

struct ClipNetImpl : torch::nn::Module {
  ClipNetImpl(const nn::TextTransformerOptions& t, const nn::VisionTransformerOptions& v, int64_t proj_dim) {
    text_model = register_module("text_model", nn::TextTransformer(t));
    vision_model = register_module("vision_model", nn::VisionTransformer(v));
    visual_projection = register_module("visual_projection", nn::Linear(v.layer.dim, proj_dim, /*bias=*/false));
    text_projection = register_module("text_projection", nn::Linear(t.layer.dim, proj_dim, /*bias=*/false));
    logit_scale = register_parameter("logit_scale", at::scalar_tensor(2.6592));
  }
  nn::TextTransformer text_model{nullptr};
  nn::VisionTransformer vision_model{nullptr};
  nn::Linear visual_projection{nullptr}, text_projection{nullptr};
  at::Tensor logit_scale;
};
TORCH_MODULE(ClipNet);

class ClipModel : public ContrastiveTowers {
 public:
  explicit ClipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    const ClipConfig cfg = ClipConfig::read(checkpoint_dir_);
    const auto topts = cfg.text_config.tower();
    const auto vopts = cfg.vision_config.tower();
    embed_dim_ = cfg.projection_dim;
    net_ = ClipNet(topts, vopts, embed_dim_);
    // Our module names are transformers' CLIPModel names.
    io::StateDict sd = io::StateDict::open(checkpoint_dir_);
    nn::assign_weights(*net_, nn::read_weights(sd, nn::drop_position_ids), sd.source());
    tokenizer_ = text::load_tokenizer(checkpoint_dir_);
    max_len_ = std::min<int64_t>(topts.max_positions, tokenizer_->config().model_max_length);
    ImageTransform defaults;
    defaults.resize = defaults.crop = static_cast<int>(vopts.image_size);
    transform_ =
        transform_from_preprocessor_config(io::join_path(checkpoint_dir_, "preprocessor_config.json"), defaults);
    MVB_CHECK(transform_output_size(transform_) == vopts.image_size, "preprocessor_config.json gives ",
              transform_output_size(transform_), " but the vision tower expects ", vopts.image_size);
    finish_setup("CLIP ViT-" + std::to_string(vopts.patch_size) + " (" + std::to_string(vopts.num_layers) + "L/" +
                 std::to_string(vopts.layer.dim) + ")");
    logit_scale_ = net_->logit_scale.to(at::kFloat).exp().item<double>();
  }

  at::Tensor image_features(const at::Tensor& pixels) override {
    return net_->visual_projection->forward(net_->vision_model->forward(pixels.to(device_, dtype_)).pooled);
  }
  at::Tensor text_features(const TextBatch& b) override {
    return net_->text_projection->forward(
        net_->text_model->forward(b.input_ids.to(device_), b.attention_mask.to(device_)));
  }
  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    return tokenize_batch(*tokenizer_, texts, max_len_);
  }
  torch::nn::Module& vision_tower() override { return *net_->vision_model; }
  torch::nn::Module& root() override { return *net_; }
  // Our vision tower's module names are those of transformers' CLIPVisionTransformer.
  std::optional<std::string> peft_module_name(const std::string& ours) const override { return ours; }

 private:
  ClipNet net_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t max_len_ = 77;
};

std::unique_ptr<Model> make_clip(const ModelSpec& spec) { return std::make_unique<ClipModel>(spec); }

}  // namespace

MVB_REGISTER(model_registry(), "CLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "OpenAI CLIP (HF format, e.g. openai/clip-vit-base-patch32)",
                        /*needs_checkpoint=*/true,
                        make_clip,
                        "openai/clip-vit-base-patch32"});
MVB_REGISTER(model_registry(), "PLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "PLIP pathology CLIP (HF CLIP format, vinid/plip)",
                        /*needs_checkpoint=*/true,
                        make_clip,
                        "vinid/plip"});
MVB_REGISTER(model_registry(), "PubMedCLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "PubMedCLIP (HF CLIP format, flaviagiammarino/pubmed-clip-vit-base-patch32)",
                        /*needs_checkpoint=*/true,
                        make_clip,
                        "flaviagiammarino/pubmed-clip-vit-base-patch32"});

}  // namespace mvb
