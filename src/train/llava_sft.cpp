// LLaVA-1.5 / LLaVA-Med fine-tuning as the reference's run_train.py sets it up (model/llava.py
// load_for_training + train/llava_trainer.py): see train/sft.h for the rules.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <fstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/llava/llava_model.h"
#include "medvlmbench/train/sft.h"
#include "medvlmbench/vision/image.h"

namespace mvb::train {
namespace {

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// What torch.save writes for a dict of tensors (the zip archive: data.pkl + data/<i>), which torch.load
// reads with weights_only=True, torch >= 2.6's default. torch::pickle_save cannot be used: it tags the
// dict's type with torch.jit._pickle.restore_type_tag, a global weights_only refuses.
std::vector<char> torch_save_bytes(const c10::IValue& value) {
  std::vector<char> pkl;
  torch::jit::Pickler pickler([&](const char* b, size_t n) { pkl.insert(pkl.end(), b, b + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* b, size_t n) -> size_t {
      const char* c = static_cast<const char*>(b);
      out.insert(out.end(), c, c + n);
      return n;
    });
    writer.writeRecord("data.pkl", pkl.data(), pkl.size());
    const std::vector<at::Tensor>& tensors = pickler.tensorData();
    for (size_t i = 0; i < tensors.size(); ++i) {
      const c10::Storage& st = tensors[i].storage();
      writer.writeRecord("data/" + std::to_string(i), st.data(), st.nbytes());
    }
    writer.writeEndOfFile();
  }
  return out;
}

class LlavaTrainable : public TrainableVlm {
 public:
  explicit LlavaTrainable(llava::LlavaModel& m) : m_(m) {
    const auto& tok = m_.tokenizer().special_tokens();
    // load_for_training: tokenizer.pad_token = tokenizer.unk_token (every --version but v0).
    MVB_CHECK(tok.unk.present(), "the LLaVA tokenizer has no unk token, which the reference pads with");
    pad_id_ = tok.unk.id;
  }

  std::string family() const override { return "llava"; }

  SftExample example(const std::string& prompt, const std::string& answer, const std::vector<ImageRef>& images,
                     const SftOptions& o) override {
    MVB_CHECK(images.size() <= 1, "LLaVA trains on one image per sample; this one has ", images.size());
    const bool with_image = !images.empty();
    const bool llama2 = o.version == "mistral_instruct";
    MVB_USAGE_CHECK(llama2 || o.version == "v1" || o.version == "vicuna_v1", "--version ", o.version,
                    " is not a conversation template medvlmbench trains with; use v1 (vicuna_v1, the "
                    "reference's default) or mistral_instruct (LLaVA-Med's)");
    SftExample ex;
    // conv.get_prompt() with the answer: TWO (sep " ", sep2 "</s>") or LLAMA_2 (system "", sep2 "</s>").
    const std::string user =
        llava::render_prompt(llama2 ? llava::Conversation::kMistralInstruct : llava::Conversation::kVicunaV1, prompt,
                             with_image, m_.config().im_start_end);
    ex.text = llama2 ? user + " " + answer + " </s>" : user + " " + answer + "</s>";
    const std::string sep = llama2 ? "[/INST] " : " ASSISTANT: ";
    const auto& tok = m_.tokenizer();
    ex.input_ids = llava::tokenize_with_image(tok, ex.text);
    ex.labels = ex.input_ids;
    // preprocess_v1 / preprocess_llama_2: BOS masked, then per round (split on sep2) the instruction's
    // token count - 2 masked; the rest after the rounds masked. The counts come from tokenizing the
    // pieces separately, so a piece that tokenizes differently inside the whole text shifts them; the
    // reference then masks the whole sample (and prints a warning), which this reproduces.
    auto len = [&](const std::string& s) {
      return static_cast<int64_t>(with_image ? llava::tokenize_with_image(tok, s).size() : tok.encode(s, true).size());
    };
    int64_t total = 0;
    for (int64_t id : ex.input_ids) total += id != pad_id_;
    int64_t cur = 1;
    auto mask = [&](int64_t from, int64_t to) {
      for (int64_t i = std::max<int64_t>(0, from); i < std::min<int64_t>(to, ex.labels.size()); ++i)
        ex.labels[i] = kIgnoreIndex;
    };
    mask(0, 1);
    size_t pos = 0;
    const std::string sep2 = "</s>";
    while (pos <= ex.text.size()) {
      const size_t hit = ex.text.find(sep2, pos);
      const std::string round = ex.text.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos);
      if (round.empty()) break;
      const size_t s = round.find(sep);
      if (s == std::string::npos || round.find(sep, s + sep.size()) != std::string::npos) break;
      const int64_t round_len = len(round);
      const int64_t instruction_len = len(round.substr(0, s) + sep) - 2;
      mask(cur, cur + instruction_len);
      cur += round_len;
      if (hit == std::string::npos) break;
      pos = hit + sep2.size();
    }
    mask(cur, static_cast<int64_t>(ex.labels.size()));
    if (cur < o.model_max_length && cur != total) {
      spdlog::warn(
          "WARNING: tokenization mismatch: {} vs. {}. (ignored) — the sample is fully masked, as the "
          "reference does: {}",
          cur, total, ex.text);
      mask(0, static_cast<int64_t>(ex.labels.size()));
      ex.fully_masked = true;
    }
    // DataCollatorForSupervisedDataset: ids and labels cut at model_max_length (before the image splice).
    if (static_cast<int64_t>(ex.input_ids.size()) > o.model_max_length) {
      ex.input_ids.resize(o.model_max_length);
      ex.labels.resize(o.model_max_length);
    }
    if (with_image) ex.pixels.push_back(llava::process_image(decode_image(images[0]), m_.config()));
    max_length_ = o.model_max_length;
    return ex;
  }

  std::pair<at::Tensor, at::Tensor> forward_batch(const std::vector<SftExample>& batch) override {
    auto& net = m_.net();
    const c10::Device dev = device();
    std::vector<at::Tensor> pixels;
    for (const auto& ex : batch)
      for (const auto& p : ex.pixels) pixels.push_back(p);
    at::Tensor features;
    if (!pixels.empty()) features = net->image_features(at::stack(pixels).to(dev, dtype()));
    // prepare_inputs_labels_for_multimodal: -200 -> the image's features (labels -100), then the
    // embeddings cut at tokenizer_model_max_length and right-padded (zeros, mask 0, position 0).
    std::vector<at::Tensor> rows_e, rows_l;
    int64_t next_image = 0, longest = 0;
    for (const auto& ex : batch) {
      std::vector<at::Tensor> pieces;
      std::vector<int64_t> labels;
      std::vector<int64_t> text, text_labels;
      auto flush = [&] {
        if (text.empty()) return;
        pieces.push_back(net->language_model->model->embed(at::tensor(text, at::kLong).to(dev).view({1, -1}))[0]);
        labels.insert(labels.end(), text_labels.begin(), text_labels.end());
        text.clear();
        text_labels.clear();
      };
      for (size_t i = 0; i < ex.input_ids.size(); ++i) {
        if (ex.input_ids[i] == -200) {
          flush();
          MVB_CHECK(features.defined() && next_image < features.size(0), "an <image> token without its image");
          pieces.push_back(features[next_image++]);
          labels.insert(labels.end(), features.size(1), kIgnoreIndex);
        } else {
          text.push_back(ex.input_ids[i]);
          text_labels.push_back(ex.labels[i]);
        }
      }
      flush();
      at::Tensor e = at::cat(pieces, 0);
      if (e.size(0) > max_length_) {
        e = e.slice(0, 0, max_length_);
        labels.resize(max_length_);
      }
      longest = std::max(longest, e.size(0));
      rows_e.push_back(e);
      rows_l.push_back(at::tensor(labels, at::kLong));
    }
    const int64_t B = static_cast<int64_t>(batch.size());
    std::vector<at::Tensor> padded;
    at::Tensor labels = at::full({B, longest}, kIgnoreIndex, at::kLong);
    at::Tensor mask = at::zeros({B, longest}, at::kLong);
    at::Tensor pos = at::zeros({B, longest}, at::kLong);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = rows_e[b].size(0);
      padded.push_back(n < longest
                           ? at::cat({rows_e[b], at::zeros({longest - n, rows_e[b].size(1)}, rows_e[b].options())})
                           : rows_e[b]);
      labels[b].slice(0, 0, n).copy_(rows_l[b]);
      mask[b].slice(0, 0, n).fill_(1);
      pos[b].slice(0, 0, n).copy_(at::arange(n, at::kLong));
    }
    nn::DecoderInputs in;
    in.inputs_embeds = at::stack(padded);
    in.position_ids = pos.to(dev);
    // No mask when nothing is padded (same result, the causal-only path).
    if (mask.min().item<int64_t>() == 0) in.attention_mask = mask.to(dev);
    const at::Tensor logits = net->language_model->forward(in, nullptr, nn::LogitsFor::kAll);
    return {logits, labels.to(dev)};
  }

  LossNorm loss_norm() const override { return LossNorm::kMicroBatchMean; }

  TrainPlan plan(const std::string& tm, bool lora) override {
    TrainPlan p;
    p.projector_prefix = "multi_modal_projector.";
    p.vision_prefix = "vision_tower.";
    const bool V = tm.find('V') != std::string::npos, M = tm.find('M') != std::string::npos,
               L = tm.find('L') != std::string::npos;
    if (lora) {
      // find_lora_modules: every nn.Linear outside mm_projector (lm_head dropped), the vision tower's
      // iff V and the decoder layers' iff L.
      for (auto& [name, lin] : nn::find_linears(*m_.net())) {
        if (starts(name, "vision_tower.") && V) p.lora_modules.push_back(name);
        if (starts(name, "language_model.model.layers.") && L) p.lora_modules.push_back(name);
      }
      p.note =
          "LoRA on find_lora_modules' targets (every nn.Linear but mm_projector and lm_head; vision tower iff V, "
          "decoder layers iff L)";
    } else {
      // Full fine-tuning of the modules --tune_modules names (the reference trains the whole LLM and
      // projector, the CLIP tower being frozen by its loader; "M" alone trains only the projector).
      if (V) p.full_prefixes.push_back("vision_tower.");
      if (L) p.full_prefixes.push_back("language_model.");
      p.note = "full fine-tuning of the modules --tune_modules names";
    }
    if (M) p.full_prefixes.push_back("multi_modal_projector.");
    return p;
  }

  torch::nn::Module& root() override { return *m_.net(); }

  std::optional<std::string> peft_name(const std::string& n) const override { return m_.peft_module_name(n); }

  bool in_layernorm(const std::string& param) const override {
    // CLIP's LayerNorms (torch::nn::LayerNorm here as there); the decoder's norms are RMSNorms.
    return starts(param, "vision_tower.") &&
           (param.find("layer_norm") != std::string::npos || param.find("layrnorm") != std::string::npos ||
            param.find("layernorm") != std::string::npos);
  }
  bool llava_decay_rules() const override { return true; }

  void save_extras(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& non_lora) override {
    // model.config.save_pretrained(output_dir) with the training settings load_for_training writes.
    const std::string base_cfg = io::join_path(m_.checkpoint_dir(), "config.json");
    nlohmann::json cfg = io::read_json(base_cfg);
    cfg["tokenizer_model_max_length"] = max_length_;
    cfg["tokenizer_padding_side"] = "right";
    cfg["use_cache"] = true;
    io::write_json_atomic(io::join_path(dir, "config.json"), cfg);
    // non_lora_trainables.bin: torch.save of the trainable non-LoRA parameters under the PeftModel's
    // names (base_model.model.<module>), which the reference's loader strips back.
    c10::Dict<std::string, at::Tensor> d;
    for (const auto& [name, t] : non_lora) {
      const auto module = name.substr(0, name.rfind('.'));
      const auto peft = peft_name(module);
      MVB_CHECK(peft.has_value(), "no published name for trainable parameter ", name);
      // A compact copy: the archive stores each tensor's whole storage.
      d.insert("base_model.model." + *peft + name.substr(name.rfind('.')), t.detach().to(at::kCPU).clone());
    }
    const std::vector<char> bytes = torch_save_bytes(c10::IValue(d));
    const std::string path = io::join_path(dir, "non_lora_trainables.bin");
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      MVB_CHECK(f.good(), "cannot write ", tmp);
    }
    std::rename(tmp.c_str(), path.c_str());
  }

  std::string base_model_path() const override { return m_.checkpoint_dir(); }
  c10::Device device() const override { return m_.net()->parameters().front().device(); }
  at::ScalarType dtype() const override { return m_.net()->parameters().front().scalar_type(); }

 private:
  llava::LlavaModel& m_;
  int64_t pad_id_ = 0;
  int64_t max_length_ = 2048;
};

}  // namespace

std::unique_ptr<TrainableVlm> make_llava_trainable(Model& model) {
  auto* m = dynamic_cast<llava::LlavaModel*>(&model);
  return m ? std::make_unique<LlavaTrainable>(*m) : nullptr;
}

}  // namespace mvb::train
