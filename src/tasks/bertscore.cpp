// The BERTScore model side: loading a Hugging Face BERT folder (Bio_ClinicalBERT ships
// BertForPreTraining weights, "bert." prefixed, beside config.json and vocab.txt), the reference's
// trim/decode/re-encode of each text, batched embedding of the unique texts, then per-pair matching.
#include "medvlmbench/tasks/bertscore.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <map>
#include <regex>

#include "medvlmbench/core/device.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/metrics/pytext.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb::bertscore {
namespace {

constexpr const char* kDefaultDir = "models/Bio_ClinicalBERT";
// eval/metrics.py: model_max_length / max_position_embeddings above this count as "unknown".
constexpr int64_t kSentinel = 10000;

class BertScorer : public Scorer {
 public:
  explicit BertScorer(const Options& o) : opts_(o), device_(resolve_device(o.device)) {
    const std::string& dir = o.model_dir;
    MVB_CHECK(io::is_directory(dir), "BERTScore model folder '", dir,
              "' does not exist; give --bertscore_model a folder holding config.json, the weights and vocab.txt "
              "(e.g. a copy of emilyalsentzer/Bio_ClinicalBERT), or --bertscore_model none");
    const std::string cfg_path = io::join_path(dir, "config.json");
    MVB_CHECK(io::exists(cfg_path), "BERTScore model folder '", dir,
              "' lacks config.json (copy it from the model's "
              "Hugging Face repository)");
    const nlohmann::json cfg = io::read_json(cfg_path);
    const std::string type = cfg.value("model_type", std::string("bert"));
    MVB_CHECK(type == "bert", cfg_path, ": model_type '", type,
              "' is not supported for BERTScore (only BERT models, e.g. Bio_ClinicalBERT)");
    nn::BertOptions bo = nn::BertOptions::from_config(cfg);
    // bert_score's get_model(): keep only the first num_layers layers; out[0] is then that layer's output.
    MVB_CHECK(o.num_layers >= 0 && o.num_layers <= bo.num_layers,
              "Invalid num_layers: num_layers should be between 0 and ", bo.num_layers, " for ", dir);
    bo.num_layers = o.num_layers;
    model_ = nn::BertEncoder(bo);

    io::StateDict sd = io::StateDict::open(dir);
    // AutoModel drops the "bert." prefix of BertForPreTraining / BertForMaskedLM checkpoints.
    if (!sd.contains("embeddings.word_embeddings.weight") && sd.contains("bert.embeddings.word_embeddings.weight"))
      sd = sd.subtree("bert.");
    static const std::regex layer_re(R"(^encoder\.layer\.(\d+)\..*)");
    const int64_t keep = bo.num_layers;
    nn::TensorMap w = nn::read_weights(sd, [keep](const std::string& n) -> std::optional<std::string> {
      std::smatch m;
      if (std::regex_match(n, m, layer_re) && std::stoll(m[1]) >= keep) return std::nullopt;
      return nn::bert_checkpoint_name(n);
    });
    nn::assign_weights(*model_, w, dir);
    model_->to(device_, at::kFloat);
    model_->eval();

    tok_ = text::load_tokenizer(dir);
    const auto& sp = tok_->special_tokens();
    MVB_CHECK(sp.cls.present() && sp.sep.present(), "BERTScore tokenizer in ", dir,
              " has no [CLS]/[SEP] tokens; it must be a BERT WordPiece tokenizer");
    cls_ = sp.cls.id;
    sep_ = sp.sep.id;
    pad_ = sp.pad.present() ? sp.pad.id : static_cast<int32_t>(bo.pad_token_id);
    const int64_t tlim = tok_->config().model_max_length;
    limit_ = tlim > 0 && tlim < kSentinel ? tlim : bo.max_positions;
    max_positions_ = bo.max_positions;
    describe_ = "BERT " + std::to_string(bo.num_layers) + "/" + std::to_string(cfg.value("num_hidden_layers", 12)) +
                " layers (" + dir + ") on " + device_.str();
  }

  std::vector<int32_t> token_ids(const std::string& text) const override {
    std::string t = text;
    if (limit_ < kSentinel) {  // _trim(): always applies for BERT configs
      std::vector<int32_t> ids = tok_->encode(text, /*add_special_tokens=*/false);
      const size_t allowed = static_cast<size_t>(std::max<int64_t>(limit_ - 2, 1));
      if (ids.size() > allowed) ids.resize(allowed);
      // The backend decode, then transformers' own clean-up list (which, unlike the old
      // pytorch-transformers list, has no " do not" -> " don't").
      t = tok_->decode(ids, /*skip_special_tokens=*/true, /*clean_up_spaces=*/false);
      if (tok_->config().clean_up_tokenization_spaces) t = text::clean_up_tokenization(std::move(t));
    }
    t = metrics::py_strip(t);  // sent_encode()
    if (t.empty()) return tok_->add_special_tokens({});
    return tok_->encode(t, /*add_special_tokens=*/true);
  }

  std::vector<Score> score(const std::vector<std::string>& cands, const std::vector<std::string>& refs) override {
    MVB_CHECK(cands.size() == refs.size(), "BERTScore: ", cands.size(), " candidates but ", refs.size(), " references");
    std::vector<Score> out(cands.size());
    const size_t chunk = static_cast<size_t>(std::max(1, opts_.pairs_per_chunk));
    for (size_t begin = 0; begin < cands.size(); begin += chunk) {
      const size_t end = std::min(cands.size(), begin + chunk);
      std::map<std::string, Embedded> emb;
      for (size_t i = begin; i < end; ++i) {
        emb.emplace(cands[i], Embedded{});
        emb.emplace(refs[i], Embedded{});
      }
      embed(emb);
      for (size_t i = begin; i < end; ++i) {
        const Embedded& c = emb.at(cands[i]);
        const Embedded& r = emb.at(refs[i]);
        out[i] = greedy_match(c.hidden, c.idf, r.hidden, r.idf);
      }
    }
    return out;
  }

  std::string describe() const override { return describe_; }
  int64_t overlong_texts() const override { return overlong_; }

 private:
  struct Embedded {
    std::vector<int32_t> ids;
    at::Tensor hidden, idf;  // [L, D] float CPU, [L]
  };

  // Fills every entry: ids, then BERT forwards over batches of texts sorted longest first (so a
  // batch pads little), keeping each text's unpadded rows on the CPU.
  void embed(std::map<std::string, Embedded>& texts) {
    std::vector<Embedded*> order;
    for (auto& [text, e] : texts) {
      e.ids = token_ids(text);
      if (static_cast<int64_t>(e.ids.size()) > max_positions_) {
        // Only a tokenizer whose round trip lengthens a text gets here; the reference would crash.
        e.ids.resize(static_cast<size_t>(max_positions_));
        e.ids.back() = sep_;
        ++overlong_;
      }
      at::Tensor idf = at::ones({static_cast<int64_t>(e.ids.size())}, at::kFloat);
      auto a = idf.accessor<float, 1>();
      for (size_t j = 0; j < e.ids.size(); ++j)
        if (e.ids[j] == cls_ || e.ids[j] == sep_) a[static_cast<int64_t>(j)] = 0.0f;
      e.idf = idf;
      order.push_back(&e);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const Embedded* a, const Embedded* b) { return a->ids.size() > b->ids.size(); });
    torch::NoGradGuard no_grad;
    const size_t bs = static_cast<size_t>(std::max(1, opts_.batch_size));
    for (size_t b = 0; b < order.size(); b += bs) {
      const size_t n = std::min(bs, order.size() - b);
      const int64_t len = static_cast<int64_t>(order[b]->ids.size());
      at::Tensor ids = at::full({static_cast<int64_t>(n), len}, pad_, at::kLong);
      at::Tensor mask = at::zeros({static_cast<int64_t>(n), len}, at::kLong);
      auto ia = ids.accessor<int64_t, 2>();
      auto ma = mask.accessor<int64_t, 2>();
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < order[b + i]->ids.size(); ++j) {
          ia[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = order[b + i]->ids[j];
          ma[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = 1;
        }
      const at::Tensor hidden = model_->forward(ids.to(device_), mask.to(device_)).to(at::kCPU, at::kFloat);
      for (size_t i = 0; i < n; ++i)
        order[b + i]->hidden =
            hidden.select(0, static_cast<int64_t>(i)).slice(0, 0, static_cast<int64_t>(order[b + i]->ids.size()));
    }
  }

  Options opts_;
  c10::Device device_;
  nn::BertEncoder model_{nullptr};
  std::unique_ptr<text::Tokenizer> tok_;
  int32_t cls_ = -1, sep_ = -1, pad_ = 0;
  int64_t limit_ = 512, max_positions_ = 512, overlong_ = 0;
  std::string describe_;
};

}  // namespace

std::unique_ptr<Scorer> Scorer::load(const Options& options) { return std::make_unique<BertScorer>(options); }

std::string resolve_model_dir(const std::string& flag) {
  if (flag == "none") return "";
  if (!flag.empty()) {
    MVB_CHECK(io::is_directory(flag), "--bertscore_model ", flag,
              " is not a folder; give a BERT checkpoint folder (config.json, weights, vocab.txt) or none");
    return flag;
  }
  return io::is_directory(kDefaultDir) ? kDefaultDir : "";
}

std::string absent_note(const std::string& meter) {
  return meter +
         ": absent; no BERTScore model: put emilyalsentzer/Bio_ClinicalBERT (config.json, pytorch_model.bin or "
         "model.safetensors, vocab.txt) in models/Bio_ClinicalBERT or pass --bertscore_model FOLDER";
}

std::string used_note(const std::string& meter, const Scorer& scorer) {
  std::string note = meter +
                     ": BERTScore F1 as bert_score 0.3.x computes it (num_layers 12, no idf, no rescale) on the "
                     "normalised texts, each first trimmed to model_max_length - 2 word pieces; " +
                     scorer.describe();
  if (scorer.overlong_texts())
    note += "; " + std::to_string(scorer.overlong_texts()) +
            " texts grew past the model's positions in the trim round trip and were cut (the reference would fail)";
  return note;
}

}  // namespace mvb::bertscore
