// MedCLIP-ViT (Wang et al. 2022) as the reference loads it (model/medclip.py: MedCLIPModel with
// MedCLIPVisionModelViT, from_pretrained()): a folder holding
//   pytorch_model.bin  the released state dict (medclip-vit-pretrained.zip): vision_model.model.* (HF
//                      SwinModel), vision_model.projection_head.weight, text_model.model.* (HF BertModel),
//                      text_model.projection_head.weight, logit_scale
//   swin_config.json   config.json of microsoft/swin-tiny-patch4-window7-224 (the vision tower's sizes)
//   config.json, vocab.txt   of emilyalsentzer/Bio_ClinicalBERT (text sizes and WordPiece vocabulary;
//                      it ships no tokenizer_config.json, so text is lower-cased as AutoTokenizer does)
// MedCLIP's semantics, from RyanWangZf/MedCLIP medclip/modeling_medclip.py:
//   image: Swin pooler_output (mean of the final tokens) -> projection_head (no bias) -> L2 normalise;
//   text:  mean over ALL positions (padding included) of BERT hidden_states[1], [2] and [-1], averaged,
//          -> projection_head (no bias) -> L2 normalise; so a text's embedding depends on the batch's
//          padded length, as in the reference, which tokenises all class prompts together;
//   logits = exp(clamp(logit_scale, 0, 4.6052)) * cos.
// The reference's image processor (its own MedCLIPFeatureExtractor): RGB, zero-pad to square (centred),
// bilinear resize, centre crop, ToTensor, * 0.5862785803043838, Normalize(mean 0, std CLIP's).
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/nn/swin.h"
#include "medvlmbench/nn/weights.h"

namespace mvb {
namespace {

// MedCLIPVisionModelViT / MedCLIPTextModel: a backbone called "model" plus "projection_head".
struct MedClipVisionImpl : torch::nn::Module {
  MedClipVisionImpl(const nn::SwinOptions& o, int64_t proj_dim) {
    model = register_module("model", nn::SwinModel(o));
    projection_head = register_module("projection_head", nn::Linear(o.num_features(), proj_dim, /*bias=*/false));
  }
  nn::SwinModel model{nullptr};
  nn::Linear projection_head{nullptr};
};
TORCH_MODULE(MedClipVision);

struct MedClipTextImpl : torch::nn::Module {
  MedClipTextImpl(const nn::BertOptions& o, int64_t proj_dim) {
    model = register_module("model", nn::BertEncoder(o));
    projection_head = register_module("projection_head", nn::Linear(o.layer.dim, proj_dim, /*bias=*/false));
  }
  nn::BertEncoder model{nullptr};
  nn::Linear projection_head{nullptr};
};
TORCH_MODULE(MedClipText);

struct MedClipNetImpl : torch::nn::Module {
  MedClipNetImpl(const nn::SwinOptions& v, const nn::BertOptions& t, int64_t vision_proj, int64_t text_proj) {
    vision_model = register_module("vision_model", MedClipVision(v, vision_proj));
    text_model = register_module("text_model", MedClipText(t, text_proj));
    logit_scale = register_parameter("logit_scale", at::scalar_tensor(std::log(1 / 0.07)));
  }
  MedClipVision vision_model{nullptr};
  MedClipText text_model{nullptr};
  at::Tensor logit_scale;
};
TORCH_MODULE(MedClipNet);

std::optional<std::string> medclip_rename(const std::string& n) {
  const std::string vm = "vision_model.model.", tm = "text_model.model.";
  if (n.rfind(vm, 0) == 0) {
    auto s = nn::swin_checkpoint_name(n.substr(vm.size()));
    return s ? std::optional<std::string>(vm + *s) : std::nullopt;
  }
  if (n.rfind(tm, 0) == 0) {
    auto b = nn::bert_checkpoint_name(n.substr(tm.size()));
    return b ? std::optional<std::string>(tm + *b) : std::nullopt;
  }
  return n;  // projection heads and logit_scale keep their names; anything else is unexpected
}

std::string require_file(const std::string& dir, const std::string& file, const std::string& what) {
  const std::string p = io::join_path(dir, file);
  MVB_CHECK(io::exists(p), "MedCLIP folder ", dir, " lacks ", file, " (", what, "; see models/README.md)");
  return p;
}

class MedClipModel : public ContrastiveTowers {
 public:
  explicit MedClipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    const std::string weights =
        require_file(checkpoint_dir_, "pytorch_model.bin", "the state dict from MedCLIP's medclip-vit-pretrained.zip");
    const std::string swin_cfg = require_file(checkpoint_dir_, "swin_config.json",
                                              "copy config.json of microsoft/swin-tiny-patch4-window7-224 there");
    const std::string bert_cfg =
        require_file(checkpoint_dir_, "config.json", "copy config.json of emilyalsentzer/Bio_ClinicalBERT there");
    require_file(checkpoint_dir_, "vocab.txt", "copy vocab.txt of emilyalsentzer/Bio_ClinicalBERT there");

    io::StateDict sd = io::StateDict::open(weights);
    MVB_CHECK(!sd.contains("vision_model.model.conv1.weight"), weights,
              " is MedCLIP-ResNet; only the ViT (Swin) release, medclip-vit-pretrained.zip, is supported");
    MVB_CHECK(sd.contains("vision_model.projection_head.weight") && sd.contains("text_model.projection_head.weight"),
              weights, " has no vision_model/text_model projection_head: not a MedCLIP state dict");
    const nn::SwinOptions v = nn::SwinOptions::from_config(read_json_file(swin_cfg), swin_cfg);
    const nn::BertOptions t = nn::BertOptions::from_config(read_json_file(bert_cfg));
    // MedCLIPTextModel reads hidden_states[1] and [2]: BERT needs at least two layers.
    MVB_CHECK(t.num_layers >= 2, bert_cfg, ": MedCLIP pools hidden layers 1, 2 and the last, so num_hidden_layers ",
              "must be >= 2 (got ", t.num_layers, ")");
    const int64_t vproj = sd.record("vision_model.projection_head.weight").shape.at(0);
    const int64_t tproj = sd.record("text_model.projection_head.weight").shape.at(0);
    MVB_CHECK(vproj == tproj, weights, ": image projection gives ", vproj, "-d but text projection ", tproj, "-d");
    net_ = MedClipNet(v, t, vproj, tproj);
    nn::assign_weights(*net_, nn::read_weights(sd, medclip_rename), weights);

    tokenizer_ = text::load_tokenizer(checkpoint_dir_);
    // The reference's zero-shot prototypes are tokenised with padding=True and no truncation.
    max_len_ = t.max_positions;
    transform_.pad_to_square = true;  // centred, filled with int(mean * 255) = 0 like transforms.functional.pad
    transform_.resize_mode = "shortest_edge";
    transform_.resize = transform_.crop = static_cast<int>(v.image_size);
    transform_.interpolation = "bilinear";  // torchvision Resize's default
    transform_.crop_rounding = "round";     // torchvision CenterCrop
    // ToTensor (/255) then * rescale_factor, then Normalize(mean 0, std).
    transform_.rescale_factor = 0.5862785803043838 / 255.0;
    transform_.mean = {0.0f, 0.0f, 0.0f};
    transform_.std = {0.26862954f, 0.26130258f, 0.27577711f};
    embed_dim_ = vproj;
    std::string depths;
    for (auto d : v.depths) depths += (depths.empty() ? "" : "-") + std::to_string(d);
    finish_setup("MedCLIP (Swin " + depths + "/" + std::to_string(v.embed_dim) + " w" + std::to_string(v.window_size) +
                 " + BERT " + std::to_string(t.num_layers) + "L/" + std::to_string(t.layer.dim) + ")");
    fingerprint_ = fingerprint_files({swin_cfg}, fingerprint_);  // the Swin sizes live outside config.json
    logit_scale_ = std::exp(std::clamp(net_->logit_scale.to(at::kFloat).item<double>(), 0.0, 4.6052));
  }

  at::Tensor image_features(const at::Tensor& pixels) override {
    at::Tensor px = pixels.to(device_, dtype_);
    if (px.size(1) == 1) px = px.repeat({1, 3, 1, 1});  // MedCLIPVisionModelViT's grayscale handling
    auto& vm = net_->vision_model;
    at::Tensor f = vm->projection_head->forward(vm->model->forward(px).pooled);
    return f / f.norm(2, -1, true);  // MedCLIPModel.encode_image normalises (the reference's lp features)
  }
  at::Tensor text_features(const TextBatch& b) override {
    auto& tm = net_->text_model;
    std::vector<at::Tensor> hs = tm->model->hidden_states(b.input_ids.to(device_), b.attention_mask.to(device_));
    // torch.stack([hs[1], hs[2], hs[-1]]).permute(1,0,2,3).mean(2).mean(1)
    at::Tensor pooled = at::stack({hs[1], hs[2], hs.back()}).permute({1, 0, 2, 3}).mean(2).mean(1);
    at::Tensor f = tm->projection_head->forward(pooled);
    return f / f.norm(2, -1, true);  // MedCLIPModel.encode_text normalises
  }
  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    return tokenize_batch(*tokenizer_, texts, max_len_);
  }
  torch::nn::Module& vision_tower() override { return *net_->vision_model; }
  torch::nn::Module& root() override { return *net_; }

 private:
  MedClipNet net_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t max_len_ = 512;
};

}  // namespace

MVB_REGISTER(model_registry(), "MedCLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "MedCLIP-ViT (Swin-Tiny + Bio_ClinicalBERT; the released pytorch_model.bin plus the "
                        "Swin and BERT configs, see models/README.md)",
                        true,
                        [](const ModelSpec& spec) { return std::make_unique<MedClipModel>(spec); },
                        // Not a hub folder (the released zip plus two configs, models/README.md).
                        "medclip-vit"});

}  // namespace mvb
