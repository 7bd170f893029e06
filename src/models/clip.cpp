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
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/text_transformer.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/nn/weights.h"

namespace mvb {
namespace {

nlohmann::json sub_config(const nlohmann::json& c, const char* key) {
  if (c.contains(key) && c[key].is_object()) return c[key];
  const std::string dict_key = std::string(key) + "_dict";  // configs written by old transformers
  if (c.contains(dict_key) && c[dict_key].is_object()) return c[dict_key];
  return nlohmann::json::object();
}

// Defaults are transformers' CLIPTextConfig / CLIPVisionConfig defaults, used for keys a config omits.
nn::TextTransformerOptions text_options(const nlohmann::json& t) {
  nn::TextTransformerOptions o;
  o.vocab_size = t.value("vocab_size", int64_t{49408});
  o.max_positions = t.value("max_position_embeddings", int64_t{77});
  o.num_layers = t.value("num_hidden_layers", int64_t{12});
  o.layer.dim = t.value("hidden_size", int64_t{512});
  o.layer.heads = t.value("num_attention_heads", int64_t{8});
  o.layer.mlp_dim = t.value("intermediate_size", int64_t{2048});
  o.layer.act = nn::parse_activation(t.value("hidden_act", std::string("quick_gelu")));
  o.layer.eps = t.value("layer_norm_eps", 1e-5);
  o.causal = true;
  o.pool = nn::TextTransformerOptions::Pool::kEos;
  o.eos_token_id = t.value("eos_token_id", int64_t{49407});
  return o;
}

nn::VisionTransformerOptions vision_options(const nlohmann::json& v) {
  nn::VisionTransformerOptions o;
  o.image_size = v.value("image_size", int64_t{224});
  o.patch_size = v.value("patch_size", int64_t{32});
  o.channels = v.value("num_channels", int64_t{3});
  o.num_layers = v.value("num_hidden_layers", int64_t{12});
  o.layer.dim = v.value("hidden_size", int64_t{768});
  o.layer.heads = v.value("num_attention_heads", int64_t{12});
  o.layer.mlp_dim = v.value("intermediate_size", int64_t{3072});
  o.layer.act = nn::parse_activation(v.value("hidden_act", std::string("quick_gelu")));
  o.layer.eps = v.value("layer_norm_eps", 1e-5);
  o.class_token = true;
  o.patch_bias = false;
  o.pre_norm = true;
  o.final_norm = true;
  o.attention_pool = false;
  return o;
}

struct ClipNetImpl : torch::nn::Module {
  ClipNetImpl(const nn::TextTransformerOptions& t, const nn::VisionTransformerOptions& v, int64_t proj_dim) {
    text_model = register_module("text_model", nn::TextTransformer(t));
    vision_model = register_module("vision_model", nn::VisionTransformer(v));
    visual_projection = register_module("visual_projection", nn::Linear(v.layer.dim, proj_dim, false));
    text_projection = register_module("text_projection", nn::Linear(t.layer.dim, proj_dim, false));
    logit_scale = register_parameter("logit_scale", at::scalar_tensor(2.6592));
  }
  nn::TextTransformer text_model{nullptr};
  nn::VisionTransformer vision_model{nullptr};
  nn::Linear visual_projection{nullptr}, text_projection{nullptr};
  at::Tensor logit_scale;
};
TORCH_MODULE(ClipNet);

// HF names -> ours: the embeddings.* level is folded into the towers; position_ids buffers are dropped.
std::optional<std::string> clip_rename(const std::string& n) {
  if (n.size() >= 12 && n.compare(n.size() - 12, 12, "position_ids") == 0) return std::nullopt;
  for (const char* tower : {"text_model.embeddings.", "vision_model.embeddings."}) {
    const std::string p = tower;
    if (n.rfind(p, 0) == 0) return p.substr(0, p.find('.') + 1) + n.substr(p.size());
  }
  return n;
}

class ClipModel : public ContrastiveTowers {
 public:
  explicit ClipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    const std::string cfg_path = io::join_path(checkpoint_dir_, "config.json");
    const nlohmann::json cfg = read_json_file(cfg_path);
    const auto topts = text_options(sub_config(cfg, "text_config"));
    const auto vopts = vision_options(sub_config(cfg, "vision_config"));
    embed_dim_ = cfg.value("projection_dim", int64_t{512});
    net_ = ClipNet(topts, vopts, embed_dim_);
    io::StateDict sd = io::StateDict::open(checkpoint_dir_);
    nn::assign_weights(*net_, nn::read_weights(sd, clip_rename), sd.source());
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
  // transformers' vision tower keeps the patch and position embeddings under "embeddings."; the rest
  // of our names are its names.
  std::optional<std::string> peft_module_name(const std::string& ours) const override {
    for (const char* m : {"patch_embedding", "position_embedding", "class_embedding"})
      if (ours.rfind(m, 0) == 0) return "embeddings." + ours;
    return ours;
  }

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
                        true,
                        make_clip,
                        "openai/clip-vit-base-patch32"});
MVB_REGISTER(model_registry(), "PLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "PLIP pathology CLIP (HF CLIP format, vinid/plip)",
                        true,
                        make_clip,
                        "vinid/plip"});
MVB_REGISTER(model_registry(), "PubMedCLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "PubMedCLIP (HF CLIP format, flaviagiammarino/pubmed-clip-vit-base-patch32)",
                        true,
                        make_clip,
                        "flaviagiammarino/pubmed-clip-vit-base-patch32"});

}  // namespace mvb
