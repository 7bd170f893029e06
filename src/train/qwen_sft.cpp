// Qwen2-VL / Qwen2.5-VL (as LLaMA-Factory fine-tunes them for the reference) and Lingshu (the
// reference's trainer as intended) over QwenVlModel's pieces: see train/sft.h for the rules.
#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/models/qwen2_vl/model.h"
#include "medvlmbench/train/sft.h"
#include "medvlmbench/vision/image.h"

namespace mvb::train {
namespace {

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// The module the trainer walks: the vision tower and the language model under one root, named as
// qwen2_vl::checkpoint_to_module names them ("visual.*", "lm.*").
class QwenRootImpl : public torch::nn::Module {
 public:
  QwenRootImpl(qwen2_vl::VisionTower v, nn::CausalLM lm) {
    register_module("visual", std::move(v));
    register_module("lm", std::move(lm));
  }
};

class QwenTrainable : public TrainableVlm {
 public:
  explicit QwenTrainable(qwen2_vl::QwenVlModel& m)
      : m_(m), root_(std::make_shared<QwenRootImpl>(m.vision(), m.language_model())) {}

  std::string family() const override { return lingshu() ? "lingshu" : "qwen2_vl"; }
  bool lingshu() const { return m_.flavor() == qwen2_vl::Flavor::kLingshu; }

  SftExample example(const std::string& prompt, const std::string& answer, const std::vector<ImageRef>& images,
                     const SftOptions& o) override {
    SftExample ex;
    std::vector<int64_t> counts;
    const int64_t merge = m_.config().vision.spatial_merge_size;
    for (const ImageRef& ref : images) {
      const qwen2_vl::Pixels p = qwen2_vl::preprocess_image(decode_image(ref), m_.image_config());
      ex.pixels.push_back(p.patches);
      ex.grids.push_back(p.grid_thw);
      counts.push_back(qwen2_vl::image_token_count(p.grid_thw, merge));
    }
    // LLaMA-Factory's qwen2_vl template (and Lingshu's chat template): the system turn, the user turn
    // with the images first, the open assistant turn = the prompt, masked; then the answer and the
    // turn's end "<|im_end|>\n", trained. Prompt and answer are encoded separately (as LLaMA-Factory
    // does), so no token straddles the boundary.
    const std::string prompt_text = qwen2_vl::render_prompt(prompt, counts);
    const std::string answer_text = answer + "<|im_end|>\n";
    const auto& tok = m_.tokenizer();
    const auto p = tok.encode(prompt_text, false);
    const auto a = tok.encode(answer_text, false);
    ex.text = prompt_text + answer_text;
    ex.input_ids.assign(p.begin(), p.end());
    ex.input_ids.insert(ex.input_ids.end(), a.begin(), a.end());
    ex.labels.assign(p.size(), kIgnoreIndex);
    ex.labels.insert(ex.labels.end(), a.begin(), a.end());
    // cutoff_len: the answer is cut from its end; the prompt (with its image tokens) is kept whole.
    if (static_cast<int64_t>(ex.input_ids.size()) > o.model_max_length) {
      MVB_CHECK(static_cast<int64_t>(p.size()) < o.model_max_length, "a training prompt of ", p.size(),
                " tokens (images included) does not fit --model_max_length ", o.model_max_length,
                "; raise it or lower --max_pixels");
      ex.input_ids.resize(o.model_max_length);
      ex.labels.resize(o.model_max_length);
    }
    return ex;
  }

  std::pair<at::Tensor, at::Tensor> forward_batch(const std::vector<SftExample>& batch) override {
    const c10::Device dev = device();
    const int64_t pad_tok = m_.config().image_token_id;
    std::vector<at::Tensor> patches;
    std::vector<qwen2_vl::Grid> grids;
    for (const auto& ex : batch) {
      for (const auto& p : ex.pixels) patches.push_back(p);
      for (const auto& g : ex.grids) grids.push_back(g);
    }
    at::Tensor merged;
    if (!patches.empty()) merged = m_.vision()->forward(at::cat(patches, 0).to(dev, dtype()), grids);
    int64_t longest = 0;
    for (const auto& ex : batch) longest = std::max<int64_t>(longest, ex.input_ids.size());
    const int64_t B = static_cast<int64_t>(batch.size());
    const int64_t pad_id = m_.tokenizer().special_tokens().pad.present() ? m_.tokenizer().special_tokens().pad.id : 0;
    at::Tensor ids = at::full({B, longest}, pad_id, at::kLong);
    at::Tensor labels = at::full({B, longest}, kIgnoreIndex, at::kLong);
    at::Tensor mask = at::zeros({B, longest}, at::kLong);
    // get_rope_index with an attention mask: padding positions are 1.
    at::Tensor pos = at::ones({3, B, longest}, at::kLong);
    size_t grid_at = 0;
    for (int64_t b = 0; b < B; ++b) {
      const auto& ex = batch[b];
      const int64_t n = static_cast<int64_t>(ex.input_ids.size());
      ids[b].slice(0, 0, n).copy_(at::tensor(ex.input_ids, at::kLong));
      labels[b].slice(0, 0, n).copy_(at::tensor(ex.labels, at::kLong));
      mask[b].slice(0, 0, n).fill_(1);
      std::vector<qwen2_vl::Grid> g(grids.begin() + grid_at, grids.begin() + grid_at + ex.grids.size());
      grid_at += ex.grids.size();
      pos.select(1, b).slice(1, 0, n).copy_(
          qwen2_vl::rope_index(ex.input_ids, pad_tok, g, m_.config().vision.spatial_merge_size).first);
    }
    ids = ids.to(dev);
    at::Tensor embeds = m_.language_model()->model->embed(ids);
    // Qwen2VLModel.forward: the image features scattered over the <|image_pad|> positions (out of
    // place, so gradients reach the vision tower).
    if (merged.defined()) {
      const at::Tensor where = ids.eq(pad_tok).nonzero();  // [N, 2] in row-major order = feature order
      MVB_CHECK(where.size(0) == merged.size(0), "the batch holds ", where.size(0),
                " image tokens but the images give ", merged.size(0), " features");
      embeds = embeds.index_put({where.select(1, 0), where.select(1, 1)}, merged.to(embeds.scalar_type()));
    }
    nn::DecoderInputs in;
    in.inputs_embeds = embeds;
    in.position_ids = pos.to(dev);
    if (mask.min().item<int64_t>() == 0) in.attention_mask = mask.to(dev);
    const at::Tensor logits = m_.language_model()->forward(in, nullptr, nn::LogitsFor::kAll);
    return {logits, labels.to(dev)};
  }

  // LLaMA-Factory's Trainer (transformers >= 4.46, a model taking **kwargs): the window's summed loss
  // over its label count. Lingshu's plain Trainer does the same.
  LossNorm loss_norm() const override { return LossNorm::kWindowTokens; }

  TrainPlan plan(const std::string& tm, bool lora) override {
    TrainPlan p;
    p.projector_prefix = "visual.merger.";
    p.vision_prefix = "visual.";
    const bool V = tm.find('V') != std::string::npos, M = tm.find('M') != std::string::npos,
               L = tm.find('L') != std::string::npos;
    const auto linears = nn::find_linears(*root_);
    if (lingshu()) {
      // Lingshu.load_for_training as intended: L -> self_attn q/k/v of the decoder, V -> the vision
      // blocks' attn.qkv (the reference's "model.visual.blocks.*.attn.qkv" meant that, but a literal
      // "*" matches nothing), M -> visual.merger.mlp fully trained.
      if (lora) {
        for (const auto& [name, lin] : linears) {
          if (L && starts(name, "lm.model.layers.") &&
              (ends(name, "self_attn.q_proj") || ends(name, "self_attn.k_proj") || ends(name, "self_attn.v_proj")))
            p.lora_modules.push_back(name);
          if (V && starts(name, "visual.blocks.") && ends(name, "attn.qkv")) p.lora_modules.push_back(name);
        }
        p.note = "Lingshu's LoRA targets as intended (L: decoder self_attn q/k/v; V: visual blocks attn.qkv)";
      }
      if (M) p.full_prefixes.push_back("visual.merger.mlp.");
    } else if (lora) {
      // LLaMA-Factory lora_target "all": every Linear but lm_head outside the frozen parts; its
      // freeze_vision_tower / freeze_multi_modal_projector / freeze_language_model are set from
      // --tune_modules (V, M, L unfrozen).
      for (const auto& [name, lin] : linears) {
        if (starts(name, "lm.lm_head")) continue;
        const bool merger = starts(name, "visual.merger.");
        if ((L && starts(name, "lm.")) || (V && starts(name, "visual.") && !merger) || (M && merger))
          p.lora_modules.push_back(name);
      }
      p.note = "LLaMA-Factory's lora_target all (every Linear but lm_head in the parts --tune_modules unfreezes)";
    }
    if (!lora && !lingshu()) {
      if (V) p.full_prefixes.insert(p.full_prefixes.end(), {"visual.patch_embed.", "visual.blocks."});
      if (M) p.full_prefixes.push_back("visual.merger.");
      if (L) p.full_prefixes.push_back("lm.");
      p.note = "full fine-tuning of the modules --tune_modules names";
    }
    return p;
  }

  torch::nn::Module& root() override { return *root_; }

  std::optional<std::string> peft_name(const std::string& n) const override { return m_.peft_module_name(n); }

  bool in_layernorm(const std::string& param) const override {
    // Qwen2-VL's vision norms are nn.LayerNorm (Qwen2.5-VL's are RMSNorms, which Trainer decays).
    if (m_.config().variant != qwen2_vl::Variant::kQwen2VL) return false;
    return starts(param, "visual.") &&
           (param.find(".norm1.") != std::string::npos || param.find(".norm2.") != std::string::npos ||
            param.find(".ln_q.") != std::string::npos);
  }

  void save_extras(const std::string&, const std::vector<std::pair<std::string, at::Tensor>>&) override {}
  std::string base_model_path() const override { return m_.checkpoint_dir(); }
  c10::Device device() const override { return root_->parameters().front().device(); }
  at::ScalarType dtype() const override { return root_->parameters().front().scalar_type(); }

 private:
  qwen2_vl::QwenVlModel& m_;
  std::shared_ptr<QwenRootImpl> root_;
};

}  // namespace

std::unique_ptr<TrainableVlm> make_qwen_trainable(Model& model) {
  auto* m = dynamic_cast<qwen2_vl::QwenVlModel*>(&model);
  return m ? std::make_unique<QwenTrainable>(*m) : nullptr;
}

}  // namespace mvb::train
