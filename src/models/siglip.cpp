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
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/text_transformer.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/nn/weights.h"

namespace mvb {
namespace {

// transformers' SiglipTextConfig / SiglipVisionConfig defaults for keys a config omits.
nn::TransformerLayerOptions layer_options(const nlohmann::json& c) {
  nn::TransformerLayerOptions o;
  o.dim = c.value("hidden_size", int64_t{768});
  o.heads = c.value("num_attention_heads", int64_t{12});
  o.mlp_dim = c.value("intermediate_size", int64_t{3072});
  o.act = nn::parse_activation(c.value("hidden_act", std::string("gelu_pytorch_tanh")));
  o.eps = c.value("layer_norm_eps", 1e-6);
  return o;
}

struct SiglipNetImpl : torch::nn::Module {
  SiglipNetImpl(const nn::TextTransformerOptions& t, const nn::VisionTransformerOptions& v, int64_t text_proj) {
    text_model = register_module("text_model", nn::TextTransformer(t));
    text_head = register_module("text_head", nn::Linear(t.layer.dim, text_proj, true));
    vision_model = register_module("vision_model", nn::VisionTransformer(v));
    logit_scale = register_parameter("logit_scale", at::zeros({1}));
    logit_bias = register_parameter("logit_bias", at::zeros({1}));
  }
  nn::TextTransformer text_model{nullptr};
  nn::Linear text_head{nullptr};
  nn::VisionTransformer vision_model{nullptr};
  at::Tensor logit_scale, logit_bias;
};
TORCH_MODULE(SiglipNet);

std::optional<std::string> siglip_rename(const std::string& n) {
  if (n.size() >= 12 && n.compare(n.size() - 12, 12, "position_ids") == 0) return std::nullopt;
  if (n.rfind("text_model.head.", 0) == 0) return "text_head." + n.substr(16);
  for (const char* tower : {"text_model.embeddings.", "vision_model.embeddings."}) {
    const std::string p = tower;
    if (n.rfind(p, 0) == 0) return p.substr(0, p.find('.') + 1) + n.substr(p.size());
  }
  return n;
}

class SiglipModel : public ContrastiveTowers {
 public:
  explicit SiglipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    const nlohmann::json cfg = read_json_file(io::join_path(checkpoint_dir_, "config.json"));
    const nlohmann::json t = cfg.value("text_config", nlohmann::json::object());
    const nlohmann::json v = cfg.value("vision_config", nlohmann::json::object());
    nn::TextTransformerOptions topts;
    topts.vocab_size = t.value("vocab_size", int64_t{32000});
    topts.max_positions = t.value("max_position_embeddings", int64_t{64});
    topts.num_layers = t.value("num_hidden_layers", int64_t{12});
    topts.layer = layer_options(t);
    topts.causal = false;
    topts.pool = nn::TextTransformerOptions::Pool::kLast;
    nn::VisionTransformerOptions vopts;
    vopts.image_size = v.value("image_size", int64_t{224});
    vopts.patch_size = v.value("patch_size", int64_t{16});
    vopts.channels = v.value("num_channels", int64_t{3});
    vopts.num_layers = v.value("num_hidden_layers", int64_t{12});
    vopts.layer = layer_options(v);
    vopts.class_token = false;
    vopts.patch_bias = true;
    vopts.pre_norm = false;
    vopts.final_norm = true;
    vopts.attention_pool = v.value("vision_use_head", true);
    MVB_CHECK(vopts.attention_pool,
              "SigLIP checkpoints without the attention-pooling head (vision_use_head=false) "
              "are not supported");
    const int64_t text_proj = t.value("projection_size", topts.layer.dim);
    MVB_CHECK(text_proj == vopts.layer.dim, "SigLIP text projection_size ", text_proj,
              " differs from the vision width ", vopts.layer.dim);
    net_ = SiglipNet(topts, vopts, text_proj);
    io::StateDict sd = io::StateDict::open(checkpoint_dir_);
    nn::TensorMap w = nn::read_weights(sd, siglip_rename);
    nn::assign_weights(*net_, w, sd.source());
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
    return net_->text_head->forward(net_->text_model->forward(b.input_ids.to(device_)));
  }
  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    return tokenize_batch(*tokenizer_, texts, max_len_);
  }
  double logit_bias() const override { return logit_bias_; }
  bool sigmoid_logits() const override { return true; }
  torch::nn::Module& vision_tower() override { return *net_->vision_model; }
  torch::nn::Module& root() override { return *net_; }
  // transformers' vision tower keeps the patch and position embeddings under "embeddings."; the rest
  // of our names are its names.
  std::optional<std::string> peft_module_name(const std::string& ours) const override {
    for (const char* m : {"patch_embedding", "position_embedding", "class_embedding"})
      if (ours.rfind(m, 0) == 0) return "embeddings." + ours;
    return ours;
  }

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
                        true,
                        make_siglip,
                        "google/siglip-base-patch16-224"});
MVB_REGISTER(model_registry(), "MedSigLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "Google MedSigLIP (HF SigLIP format, google/medsiglip-448)",
                        true,
                        make_siglip,
                        "google/medsiglip-448"});

}  // namespace mvb
