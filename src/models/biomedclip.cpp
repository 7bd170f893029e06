// BioMedCLIP in the open_clip layout (microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224:
// open_clip_config.json, open_clip_pytorch_model.bin, BERT vocab.txt): open_clip's CustomTextCLIP with
//   visual: TimmModel = timm VisionTransformer (class token, pre-LN blocks with fused qkv, final norm,
//           class-token pooling) + head.proj (Linear, no bias);
//   text:   HFTextEncoder = BERT (PubMedBERT) with attention mask ids != pad, pooled at [CLS]
//           (cls_last_hidden_state_pooler), then proj (hf_proj_type "mlp": Linear-GELU-Linear, or "linear").
// open_clip builds the towers from hub names; here every size is read from the weights themselves, and
// the head counts from vision_cfg.head_width and text_cfg.heads (open_clip config fields that its timm
// and HF towers ignore; absent in the release, whose towers use a head width of 64).
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/vit.h"
#include "medvlmbench/nn/weights.h"

namespace mvb {
namespace {

struct BiomedClipNetImpl : torch::nn::Module {
  BiomedClipNetImpl(const nn::VisionTransformerOptions& v, const nn::BertOptions& t, int64_t embed_dim, bool mlp_proj) {
    vision = register_module("vision", nn::VisionTransformer(v));
    visual_proj = register_module("visual_proj", nn::Linear(v.layer.dim, embed_dim, /*bias=*/false));
    text = register_module("text", nn::BertEncoder(t));
    if (mlp_proj) {
      const int64_t hidden = (t.layer.dim + embed_dim) / 2;  // open_clip: (d_model + embed_dim) // 2
      text_proj1 = register_module("text_proj1", nn::Linear(t.layer.dim, hidden, /*bias=*/false));
      text_proj2 = register_module("text_proj2", nn::Linear(hidden, embed_dim, /*bias=*/false));
    } else {
      text_proj1 = register_module("text_proj1", nn::Linear(t.layer.dim, embed_dim, /*bias=*/false));
    }
    logit_scale = register_parameter("logit_scale", at::scalar_tensor(2.6592));
  }
  nn::VisionTransformer vision{nullptr};
  nn::Linear visual_proj{nullptr};
  nn::BertEncoder text{nullptr};
  nn::Linear text_proj1{nullptr}, text_proj2{nullptr};
  at::Tensor logit_scale;
};
TORCH_MODULE(BiomedClipNet);

std::optional<std::string> biomedclip_rename(const std::string& n) {
  static const std::vector<std::pair<std::regex, std::string>> vision_rules = {
      {std::regex(R"(^visual\.trunk\.cls_token$)"), "vision.embeddings.class_embedding"},
      {std::regex(R"(^visual\.trunk\.pos_embed$)"), "vision.embeddings.position_embedding.weight"},
      {std::regex(R"(^visual\.trunk\.patch_embed\.proj\.(weight|bias)$)"), "vision.embeddings.patch_embedding.$1"},
      {std::regex(R"(^visual\.trunk\.blocks\.(\d+)\.norm1\.(weight|bias)$)"),
       "vision.encoder.layers.$1.layer_norm1.$2"},
      {std::regex(R"(^visual\.trunk\.blocks\.(\d+)\.norm2\.(weight|bias)$)"),
       "vision.encoder.layers.$1.layer_norm2.$2"},
      {std::regex(R"(^visual\.trunk\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)$)"),
       "vision.encoder.layers.$1.self_attn.qkv.$2"},
      {std::regex(R"(^visual\.trunk\.blocks\.(\d+)\.attn\.proj\.(weight|bias)$)"),
       "vision.encoder.layers.$1.self_attn.out_proj.$2"},
      {std::regex(R"(^visual\.trunk\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$)"),
       "vision.encoder.layers.$1.mlp.$2.$3"},
      {std::regex(R"(^visual\.trunk\.norm\.(weight|bias)$)"), "vision.post_layernorm.$1"},
      {std::regex(R"(^visual\.head\.proj\.weight$)"), "visual_proj.weight"},
      {std::regex(R"(^text\.proj\.0\.weight$)"), "text_proj1.weight"},
      {std::regex(R"(^text\.proj\.2\.weight$)"), "text_proj2.weight"},
      {std::regex(R"(^text\.proj\.weight$)"), "text_proj1.weight"},
      {std::regex(R"(^logit_scale$)"), "logit_scale"},
  };
  for (const auto& [re, to] : vision_rules)
    if (std::regex_match(n, re)) return std::regex_replace(n, re, to);
  const std::string tp = "text.transformer.";
  if (n.rfind(tp, 0) == 0) {
    auto b = nn::bert_checkpoint_name(n.substr(tp.size()));
    return b ? std::optional<std::string>("text." + *b) : std::nullopt;
  }
  return n;  // anything else is reported as unexpected
}

int64_t count_layers(const io::StateDict& sd, const std::regex& re) {
  int64_t n = 0;
  std::smatch m;
  for (const auto& name : sd.names())
    if (std::regex_match(name, m, re)) n = std::max<int64_t>(n, std::stoll(m[1]) + 1);
  return n;
}

class BiomedClipModel : public ContrastiveTowers {
 public:
  explicit BiomedClipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    const std::string cfg_path = io::join_path(checkpoint_dir_, "open_clip_config.json");
    const nlohmann::json cfg = read_json_file(cfg_path);
    const nlohmann::json mc = cfg.value("model_cfg", nlohmann::json::object());
    const nlohmann::json vc = mc.value("vision_cfg", nlohmann::json::object());
    const nlohmann::json tc = mc.value("text_cfg", nlohmann::json::object());
    const std::string pool = vc.value("timm_pool", std::string(""));
    MVB_CHECK(pool.empty() || pool == "token", cfg_path, ": timm_pool '", pool,
              "' is not supported (only the token pool)");
    const std::string pooler = tc.value("hf_pooler_type", std::string("cls_last_hidden_state_pooler"));
    MVB_CHECK(pooler == "cls_last_hidden_state_pooler" || pooler == "cls_pooler", cfg_path, ": hf_pooler_type '",
              pooler, "' is not supported");
    const std::string proj = tc.value("hf_proj_type", std::string("mlp"));
    MVB_CHECK(proj == "mlp" || proj == "linear", cfg_path, ": hf_proj_type '", proj, "' is not supported");
    const int64_t embed_dim = nn::hf::get_int(mc, "embed_dim", 512, cfg_path);

    io::StateDict sd = io::StateDict::open(checkpoint_dir_);
    // Vision sizes from the weights (open_clip would ask timm for vit_base_patch16_224).
    const at::Tensor patch = sd.get("visual.trunk.patch_embed.proj.weight");
    nn::VisionTransformerOptions v;
    v.layer.dim = patch.size(0);
    v.channels = patch.size(1);
    v.patch_size = patch.size(2);
    v.image_size = nn::hf::get_int(vc, "image_size", 224, cfg_path);
    v.num_layers = count_layers(sd, std::regex(R"(^visual\.trunk\.blocks\.(\d+)\..*)"));
    v.layer.mlp_dim = sd.record("visual.trunk.blocks.0.mlp.fc1.weight").shape[0];
    v.layer.heads = v.layer.dim / nn::hf::get_int(vc, "head_width", 64, cfg_path);
    v.layer.act = nn::Activation::kGelu;
    v.layer.eps = 1e-6;                                // timm ViT's LayerNorm
    v.layer.qkv_layout = nn::QkvLayout::kFusedLinear;  // timm's attn.qkv: one LoRA adapter, as PEFT
    v.class_token = true;
    v.patch_bias = true;
    v.pre_norm = false;
    v.final_norm = true;
    v.position_embedding_module = false;  // timm's pos_embed is an nn.Parameter: PEFT's LoRA skips it
    nn::BertOptions t;
    const auto& words = sd.record("text.transformer.embeddings.word_embeddings.weight").shape;
    t.vocab_size = words[0];
    t.layer.dim = words[1];
    t.max_positions = sd.record("text.transformer.embeddings.position_embeddings.weight").shape[0];
    t.type_vocab_size = sd.record("text.transformer.embeddings.token_type_embeddings.weight").shape[0];
    t.num_layers = count_layers(sd, std::regex(R"(^text\.transformer\.encoder\.layer\.(\d+)\..*)"));
    t.layer.mlp_dim = sd.record("text.transformer.encoder.layer.0.intermediate.dense.weight").shape[0];
    // BERT's head count: text_cfg.heads (an open_clip field its HF tower ignores; set in tiny test
    // checkpoints), else a head width of 64 as in every BERT-base / PubMedBERT.
    t.layer.heads = nn::hf::get_int(tc, "heads", t.layer.dim / 64, cfg_path);
    MVB_CHECK(t.layer.heads > 0 && t.layer.dim % t.layer.heads == 0, cfg_path, ": text width ", t.layer.dim,
              " does not split into ", t.layer.heads, " heads");
    t.layer.act = nn::Activation::kGelu;
    t.layer.eps = 1e-12;
    t.layer.pre_norm = false;
    net_ = BiomedClipNet(v, t, embed_dim, proj == "mlp");

    nn::TensorMap w = nn::read_weights(sd, biomedclip_rename);
    const std::string cls = "vision.embeddings.class_embedding", pos = "vision.embeddings.position_embedding.weight";
    if (w.count(cls)) w[cls] = w[cls].reshape({-1});  // timm: [1, 1, D] and [1, L, D]
    if (w.count(pos)) w[pos] = w[pos].squeeze(0);
    nn::assign_weights(*net_, w, sd.source());

    tokenizer_ = text::load_tokenizer(checkpoint_dir_);
    pad_id_ = tokenizer_->special_tokens().pad.present() ? tokenizer_->special_tokens().pad.id : 0;
    context_length_ = std::min<int64_t>(nn::hf::get_int(tc, "context_length", 77, cfg_path), t.max_positions);
    const nlohmann::json pc = cfg.value("preprocess_cfg", nlohmann::json::object());
    transform_.resize_mode = "shortest_edge";
    transform_.resize = transform_.crop = static_cast<int>(v.image_size);
    transform_.crop_rounding = "round";  // torchvision CenterCrop
    transform_.interpolation = pc.value("interpolation", std::string("bicubic"));
    if (pc.contains("mean")) transform_.mean = pc["mean"].get<std::array<float, 3>>();
    if (pc.contains("std")) transform_.std = pc["std"].get<std::array<float, 3>>();
    embed_dim_ = embed_dim;
    finish_setup("BioMedCLIP (timm ViT-" + std::to_string(v.patch_size) + " " + std::to_string(v.num_layers) + "L/" +
                 std::to_string(v.layer.dim) + " + BERT " + std::to_string(t.num_layers) + "L/" +
                 std::to_string(t.layer.dim) + ")");
    logit_scale_ = net_->logit_scale.to(at::kFloat).exp().item<double>();
  }

  at::Tensor image_features(const at::Tensor& pixels) override {
    return net_->visual_proj->forward(net_->vision->forward(pixels.to(device_, dtype_)).pooled);
  }
  at::Tensor text_features(const TextBatch& b) override {
    at::Tensor ids = b.input_ids.to(device_);
    at::Tensor mask = (ids != pad_id_).to(at::kLong);  // open_clip HFTextEncoder's mask
    at::Tensor cls = net_->text->forward(ids, mask).select(1, 0);
    if (net_->text_proj2) return net_->text_proj2->forward(at::gelu(net_->text_proj1->forward(cls)));
    return net_->text_proj1->forward(cls);
  }
  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    return tokenize_batch(*tokenizer_, texts, context_length_, pad_id_);
  }
  torch::nn::Module& vision_tower() override { return *net_->vision; }
  torch::nn::Module& root() override { return *net_; }

 private:
  BiomedClipNet net_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t pad_id_ = 0, context_length_ = 256;
};

}  // namespace

MVB_REGISTER(model_registry(), "BioMedCLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "BiomedCLIP (open_clip format: timm ViT-B/16 + PubMedBERT, microsoft/BiomedCLIP-PubMedBERT_256-"
                        "vit_base_patch16_224)",
                        true,
                        [](const ModelSpec& spec) { return std::make_unique<BiomedClipModel>(spec); },
                        "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"});

}  // namespace mvb
