// PMC-CLIP as the reference loads it (model/pmcclip.py): a folder holding
//   image_encoder(resnet50).pth   ModifiedResNet [3,4,6,3], width 64, output 768, 8 pooling heads
//   text_encoder.pth              BertModel state dict (BiomedBERT-base-uncased-abstract)
//   text_projection_layer.pth     a bare [768, 768] tensor
//   config.json (BERT config, optional: sizes are read from the weights), vocab.txt + tokenizer files,
//   pmc_clip.json (optional): {"heads": 8, "logit_scale": 4.4292}
// encode_image = the ResNet's attention-pooled output; encode_text = normalize(CLS @ projection). The
// reference sets logit_scale = 4.4292 (so exp() = 83.9) and its zero-shot path calls a forward the
// wrapper lacks; here logits are exp(logit_scale) * cos like every other model.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>
#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/nn/hf_config.h"
#include "medvlmbench/nn/resnet.h"
#include "medvlmbench/nn/weights.h"

namespace mvb {
namespace {

struct PmcClipNetImpl : torch::nn::Module {
  PmcClipNetImpl(const nn::ModifiedResNetOptions& v, const nn::BertOptions& t, int64_t proj_out) {
    image_encoder = register_module("image_encoder", nn::ModifiedResNet(v));
    text_encoder = register_module("text_encoder", nn::BertEncoder(t));
    text_projection = register_parameter("text_projection", at::zeros({t.layer.dim, proj_out}));
  }
  nn::ModifiedResNet image_encoder{nullptr};
  nn::BertEncoder text_encoder{nullptr};
  at::Tensor text_projection;
};
TORCH_MODULE(PmcClipNet);

io::StateDict open_required(const std::string& dir, const std::string& file) {
  const std::string p = io::join_path(dir, file);
  MVB_CHECK(io::exists(p), "PMC-CLIP folder ", dir, " lacks ", file,
            " (expected image_encoder(resnet50).pth, text_encoder.pth, text_projection_layer.pth)");
  return io::StateDict::open(p);
}

class PmcClipModel : public ContrastiveTowers {
 public:
  explicit PmcClipModel(const ModelSpec& spec) : ContrastiveTowers(spec) {
    io::StateDict img = open_required(checkpoint_dir_, "image_encoder(resnet50).pth");
    io::StateDict txt = open_required(checkpoint_dir_, "text_encoder.pth");
    io::StateDict proj = open_required(checkpoint_dir_, "text_projection_layer.pth");
    nlohmann::json extra = nlohmann::json::object();
    if (io::exists(io::join_path(checkpoint_dir_, "pmc_clip.json")))
      extra = read_json_file(io::join_path(checkpoint_dir_, "pmc_clip.json"));

    nn::ModifiedResNetOptions v;
    v.width = img.record("conv3.weight").shape[0];
    v.output_dim = img.record("attnpool.c_proj.weight").shape[0];
    const int64_t positions = img.record("attnpool.positional_embedding").shape[0] - 1;
    v.image_size = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(positions)))) * 32;
    v.heads = nn::hf::get_int(extra, "heads", 8,
                              io::join_path(checkpoint_dir_, "pmc_clip.json"));  // hard-coded in the reference
    v.layers.assign(4, 0);
    std::smatch m;
    static const std::regex block(R"(^layer(\d)\.(\d+)\..*)");
    for (const auto& n : img.names())
      if (std::regex_match(n, m, block)) {
        auto& c = v.layers[std::stoi(m[1]) - 1];
        c = std::max<int64_t>(c, std::stoll(m[2]) + 1);
      }
    nn::BertOptions t;
    const std::string bert_cfg = io::join_path(checkpoint_dir_, "config.json");
    if (io::exists(bert_cfg)) t = nn::BertOptions::from_config(read_json_file(bert_cfg));
    const auto& words = txt.record("embeddings.word_embeddings.weight").shape;
    t.vocab_size = words[0];
    t.layer.dim = words[1];
    t.max_positions = txt.record("embeddings.position_embeddings.weight").shape[0];
    t.type_vocab_size = txt.record("embeddings.token_type_embeddings.weight").shape[0];
    t.layer.mlp_dim = txt.record("encoder.layer.0.intermediate.dense.weight").shape[0];
    if (!io::exists(bert_cfg)) t.layer.heads = t.layer.dim / 64;
    int64_t layers = 0;
    static const std::regex tl(R"(^encoder\.layer\.(\d+)\..*)");
    for (const auto& n : txt.names())
      if (std::regex_match(n, m, tl)) layers = std::max<int64_t>(layers, std::stoll(m[1]) + 1);
    t.num_layers = layers;
    at::Tensor p = proj.get(proj.names().front(), at::kFloat);
    MVB_CHECK(p.dim() == 2 && p.size(0) == t.layer.dim, "text_projection_layer.pth holds ", p.sizes(), "; expected [",
              t.layer.dim, ", D]");
    net_ = PmcClipNet(v, t, p.size(1));

    nn::TensorMap w;
    for (auto& [k, val] : nn::read_weights(img, [](const std::string& n) {
           return std::optional<std::string>("image_encoder." + nn::modified_resnet_name(n));
         }))
      w[k] = val;
    for (auto& [k, val] : nn::read_weights(txt, [](const std::string& n) -> std::optional<std::string> {
           auto b = nn::bert_checkpoint_name(n);
           return b ? std::optional<std::string>("text_encoder." + *b) : std::nullopt;
         }))
      w[k] = val;
    w["text_projection"] = p;
    nn::assign_weights(*net_, w, checkpoint_dir_);

    tokenizer_ = text::load_tokenizer(checkpoint_dir_);
    max_len_ = std::min<int64_t>(512, t.max_positions);
    transform_.resize_mode = "shortest_edge";
    transform_.resize = transform_.crop = static_cast<int>(v.image_size);
    transform_.crop_rounding = "round";  // torchvision Resize + CenterCrop
    embed_dim_ = v.output_dim;
    MVB_CHECK(p.size(1) == embed_dim_, "PMC-CLIP text projection gives ", p.size(1), "-d but the image encoder ",
              embed_dim_, "-d");
    finish_setup("PMC-CLIP (ModifiedResNet " + std::to_string(v.layers[0]) + "-" + std::to_string(v.layers[1]) + "-" +
                 std::to_string(v.layers[2]) + "-" + std::to_string(v.layers[3]) + " + BERT " +
                 std::to_string(t.num_layers) + "L)");
    logit_scale_ = std::exp(extra.value("logit_scale", 4.4292));
  }

  at::Tensor image_features(const at::Tensor& pixels) override {
    return net_->image_encoder->forward(pixels.to(device_, dtype_));
  }
  at::Tensor text_features(const TextBatch& b) override {
    at::Tensor cls = net_->text_encoder->forward(b.input_ids.to(device_), b.attention_mask.to(device_)).select(1, 0);
    at::Tensor f = at::matmul(cls, net_->text_projection);
    return f / f.norm(2, -1, true);  // the reference normalises here already
  }
  TextBatch tokenize(const std::vector<std::string>& texts) const override {
    return tokenize_batch(*tokenizer_, texts, max_len_);
  }
  torch::nn::Module& vision_tower() override { return *net_->image_encoder; }
  torch::nn::Module& root() override { return *net_; }

 private:
  PmcClipNet net_{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int64_t max_len_ = 512;
};

}  // namespace

MVB_REGISTER(model_registry(), "PMCCLIP",
             ModelEntry{"contrastive",
                        {"diagnosis"},
                        "PMC-CLIP (ModifiedResNet-50 + BiomedBERT; the reference's pretrained_models/pmcclip folder)",
                        true,
                        [](const ModelSpec& spec) { return std::make_unique<PmcClipModel>(spec); },
                        // Not on the hub: the reference reads ./pretrained_models/pmcclip/.
                        "pmcclip"});

}  // namespace mvb
