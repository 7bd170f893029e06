// tokenizer.model through the sentencepiece module, with the behaviour of transformers' (4.x) slow
// LlamaTokenizer: added and special tokens are split out first; with legacy=True (transformers'
// default when tokenizer_config.json has no "legacy") every other chunk goes through SentencePiece as
// is, with legacy=False the text gets one leading "\u2581" and the chunks go through a copy of the
// model without the dummy prefix (so text after a special token gets none); BOS/EOS follow
// add_bos_token / add_eos_token; decoding is LlamaTokenizer.convert_tokens_to_string over the runs
// between added tokens. spiece.model (T5Tokenizer / SiglipTokenizer) keeps its own rules.
//
// "Special" here is transformers 4.x's all_special_tokens: the named tokens (bos, eos, unk, sep, pad, cls,
// mask) and additional_special_tokens, NOT the "special" flag of added_tokens_decoder. That set decides
// which leading "\u2581" LlamaTokenizer.tokenize (legacy=False) drops, what skip_special_tokens skips, which
// tokens convert_tokens_to_string keeps out of SentencePiece, and (its complement among the added tokens)
// which tokens PreTrainedTokenizer._decode puts between spaces. Every model using this tokenizer (LLaVA's
// use_fast=False, XrayGPT, XGenMiniV1) runs transformers 4.53.1 in the reference; transformers 5 rewrote
// the slow path (_decode is convert_tokens_to_string over everything, no spaces_between_special_tokens).
#include <unordered_set>

#include "hf_tokenizer.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/text/tokenizer.h"
#include "spm_module.h"
#include "unicode.h"

namespace mvb::text {
namespace {

const std::string kMeta = "\xE2\x96\x81";  // SentencePiece's "\u2581"

// SiglipTokenizer.canonicalize_text() after its lowercasing: drop string.punctuation, collapse \s+ to
// " ", strip.
bool py_isspace(char32_t c) { return uni::is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

std::string siglip_canonicalize(const std::string& text) {
  static const std::string punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  std::string out;
  bool pending_space = false;
  size_t i = 0;
  while (i < text.size()) {
    const size_t b = i;
    const char32_t c = uni::next_cp(text, i);
    if (c < 0x80 && punctuation.find(static_cast<char>(c)) != std::string::npos) continue;
    if (py_isspace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out.append(text, b, i - b);
  }
  return out;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& model_path, const std::string& folder) : api_(spm::api()) {
    MVB_CHECK(io::exists(model_path), "SentencePiece model '", model_path, "' does not exist");
    char err[1024] = {0};
    handle_ = api_.load(model_path.c_str(), err, sizeof err);
    MVB_CHECK(handle_, model_path, ": not a SentencePiece model (", err, ")");
    pieces_ = api_.piece_size(handle_);

    // Special tokens: the model's own pieces, then what the folder's config says.
    SpecialTokens st;
    auto sp_special = [&](int which) {
      const int id = api_.special_id(handle_, which);
      return id >= 0 ? SpecialToken{piece(id), id} : SpecialToken{};
    };
    st.bos = sp_special(0);
    st.eos = sp_special(1);
    st.unk = sp_special(2);
    st.pad = sp_special(3);

    // Added tokens beyond (or inside) the SentencePiece vocabulary.
    std::vector<hf::AddedVocabulary::Token> added;
    std::unordered_set<int32_t> seen;
    auto add = [&](int32_t id, const std::string& content, const nlohmann::json& flags, bool special) {
      if (content.empty() || !seen.insert(id).second) return;
      hf::AddedVocabulary::Token t;
      t.id = id;
      t.content = content;
      t.special = flags.value("special", special);
      t.lstrip = flags.value("lstrip", false);
      t.rstrip = flags.value("rstrip", false);
      t.single_word = flags.value("single_word", false);
      added.push_back(t);
    };
    nlohmann::json cfg = nlohmann::json::object();
    if (!folder.empty() && io::exists(io::join_path(folder, "tokenizer_config.json")))
      cfg = io::read_json(io::join_path(folder, "tokenizer_config.json"));
    if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
      for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it)
        add(hf::token_id(hf::json::parse(it.key(), nullptr, /*allow_exceptions=*/false), "added_tokens_decoder key"),
            it.value().value("content", std::string()), it.value(), /*special=*/false);
    }
    if (!folder.empty() && io::exists(io::join_path(folder, "added_tokens.json"))) {
      const auto j = io::read_json(io::join_path(folder, "added_tokens.json"));
      for (auto it = j.begin(); it != j.end(); ++it)
        add(hf::token_id(it.value(), "added token '" + it.key() + "'"), it.key(), nlohmann::json::object(),
            /*special=*/false);
    }
    added_.build(added, nullptr);
    extra_ = 0;
    for (const auto& t : added)
      if (t.id >= pieces_) ++extra_;

    hf::apply_folder_config(*this, folder, "sentencepiece", st);
    // PreTrainedTokenizer.__init__: the special tokens not yet added tokens are added (special), in
    // SPECIAL_TOKENS_ATTRIBUTES order; one missing from the vocabulary gets the next id.
    added_list_ = std::move(added);
    for (SpecialToken* t :
         {&special_.bos, &special_.eos, &special_.unk, &special_.sep, &special_.pad, &special_.cls, &special_.mask})
      register_special(*t);
    for (auto& t : special_.additional) register_special(t);
    rebuild();
    // T5Tokenizer / SiglipTokenizer end with EOS and have no BOS; LlamaTokenizer starts with BOS.
    const std::string& cls = config().tokenizer_class;
    const bool t5_like = cls.rfind("T5Tokenizer", 0) == 0 || cls.rfind("SiglipTokenizer", 0) == 0;
    add_bos_ = config().add_bos_token.value_or(!t5_like);
    add_eos_ = config().add_eos_token.value_or(t5_like);
    siglip_canonicalize_ = cls.rfind("SiglipTokenizer", 0) == 0;
    t5_like_ = t5_like;
    if (!t5_like) {
      // LlamaTokenizer(legacy=None) warns and behaves as legacy=True; add_prefix_space defaults to True.
      legacy_ = !(cfg.contains("legacy") && cfg["legacy"].is_boolean() && !cfg["legacy"].get<bool>());
      add_prefix_space_ = cfg.value("add_prefix_space", true);
      if (!legacy_) {
        char err2[1024] = {0};
        no_prefix_ = api_.load_no_dummy_prefix(model_path.c_str(), err2, sizeof err2);
        MVB_CHECK(no_prefix_, model_path, ": cannot load without the dummy prefix (", err2, ")");
        // LlamaTokenizer.unk_token_length: the unk token's text encoded without the dummy prefix.
        std::vector<int32_t> u;
        sp_encode(no_prefix_, special_tokens().unk.content, u);
        unk_length_ = u.size();
      }
    }
    // SiglipTokenizer lowercases first (do_lower_case, default true; Python str.lower) in canonicalize_text.
    siglip_lowercase_ = siglip_canonicalize_ && cfg.value("do_lower_case", true);
  }
  ~SentencePieceTokenizer() override {
    if (handle_) api_.free_handle(handle_);
    if (no_prefix_) api_.free_handle(no_prefix_);
  }

  std::vector<int32_t> encode(std::string_view input, bool add_special_tokens) const override {
    std::string text = uni::sanitize_utf8(input);
    if (siglip_lowercase_) text = uni::python_lower(text);
    if (siglip_canonicalize_) text = siglip_canonicalize(text);
    std::vector<int32_t> ids;
    if (t5_like_ || legacy_ || text.empty()) {
      for (const auto& sp : added_.split(text, /*normalized_kind=*/false)) {
        if (sp.id >= 0) {
          ids.push_back(sp.id);
        } else if (sp.e > sp.b) {
          sp_encode(handle_, std::string_view(text).substr(sp.b, sp.e - sp.b), ids);
        }
      }
    } else {
      // LlamaTokenizer.tokenize (legacy=False): "\u2581" -> " ", one "\u2581" in front, then each chunk
      // through _tokenize: SentencePiece without the dummy prefix, and for a chunk that starts with
      // "\u2581" or " ", encode(unk_token + chunk) minus the unk token's pieces.
      text = replace_all(std::move(text), kMeta, " ");
      if (add_prefix_space_) text = kMeta + text;
      bool first_is_bare_meta = false;
      for (const auto& sp : added_.split(text, /*normalized_kind=*/false)) {
        if (sp.id >= 0) {
          // A lone leading "\u2581" before a special token is dropped.
          // (LlamaTokenizer.tokenize: tokens[1] in all_special_tokens, whatever its "special" flag.)
          if (first_is_bare_meta && ids.size() == 1 && all_special_.count(id_to_token(sp.id))) ids.clear();
          first_is_bare_meta = false;
          ids.push_back(sp.id);
          continue;
        }
        if (sp.e <= sp.b) continue;
        const std::string_view chunk = std::string_view(text).substr(sp.b, sp.e - sp.b);
        const bool was_empty = ids.empty();
        if (chunk.rfind(kMeta, 0) == 0 || chunk.front() == ' ') {
          std::vector<int32_t> t;
          sp_encode(no_prefix_, special_tokens().unk.content + std::string(chunk), t);
          if (t.size() >= unk_length_) t.erase(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(unk_length_));
          ids.insert(ids.end(), t.begin(), t.end());
        } else {
          sp_encode(no_prefix_, chunk, ids);
        }
        first_is_bare_meta = was_empty && ids.size() == 1 && piece(ids[0]) == kMeta;
      }
    }
    return add_special_tokens ? this->add_special_tokens(std::move(ids)) : ids;
  }

  std::vector<int32_t> add_special_tokens(std::vector<int32_t> ids) const override {
    if (add_bos_ && special_tokens().bos.present()) ids.insert(ids.begin(), special_tokens().bos.id);
    if (add_eos_ && special_tokens().eos.present()) ids.push_back(special_tokens().eos.id);
    return ids;
  }

  std::string decode_raw(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    return decode_raw_spaced(ids, skip_special_tokens, true);
  }

  std::string decode_raw_spaced(const std::vector<int32_t>& ids, bool skip_special_tokens,
                                bool spaces_between_special_tokens) const override {
    // PreTrainedTokenizer._decode (4.53.1): convert_ids_to_tokens drops all_special_ids when skipping; the
    // "legacy added tokens" (added tokens outside all_special_tokens, plus additional special tokens past the
    // SentencePiece vocabulary) each make their own piece of text; the runs in between go through
    // convert_tokens_to_string (an empty one is dropped, except the last); the pieces are joined with " "
    // (spaces_between_special_tokens) or "".
    std::vector<std::string> sub_texts;
    std::vector<int32_t> run;
    for (int32_t id : ids) {
      if (skip_special_tokens && all_special_ids_.count(id)) continue;
      const std::string token = id_to_token(id);
      // _decode tests the token's text (a second skip test on strings, and the added-token test).
      if (skip_special_tokens && all_special_.count(token)) continue;
      if (legacy_added_.count(token)) {
        if (!run.empty()) {
          std::string s = tokens_to_string(run);
          if (!s.empty()) sub_texts.push_back(std::move(s));
          run.clear();
        }
        sub_texts.push_back(token);
      } else {
        run.push_back(id);
      }
    }
    if (!run.empty()) sub_texts.push_back(tokens_to_string(run));
    std::string out;
    for (size_t i = 0; i < sub_texts.size(); ++i) {
      if (i && spaces_between_special_tokens) out += ' ';
      out += sub_texts[i];
    }
    return out;
  }

  void add_additional_special_tokens(const std::vector<std::string>& tokens) override {
    // add_special_tokens({"additional_special_tokens": tokens}) with replace_additional_special_tokens=True:
    // the list is replaced (the earlier ones stay added tokens but stop being special), then add_tokens(...,
    // special_tokens=True) gives the new ones the next ids (AddedToken(normalized=False, special=True), no
    // stripping).
    std::vector<SpecialToken> list;
    for (const auto& t : tokens)
      if (!t.empty()) list.push_back(SpecialToken{t, -1});
    if (list.empty()) return;
    special_.additional = std::move(list);
    for (auto& t : special_.additional) register_special(t, true);
    rebuild();
  }

  int64_t vocab_size() const override { return pieces_ + extra_; }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    if (auto id = added_.id_of(token)) return id;
    const int id = api_.piece_to_id(handle_, token.data(), static_cast<int>(token.size()));
    // SentencePiece answers unk_id for unknown pieces; only the unk piece itself maps there.
    if (id == api_.special_id(handle_, 2) && token != piece(id)) return std::nullopt;
    return id;
  }
  std::string id_to_token(int32_t id) const override {
    if (const auto* a = added_.by_id(id)) return a->content;
    if (id < 0 || id >= pieces_) return "";
    return piece(id);
  }
  bool is_special_id(int32_t id) const override { return all_special_ids_.count(id) > 0; }

 private:
  // Makes a named or additional special token an added token (transformers' _add_tokens(special_tokens=True)):
  // one already in the vocabulary keeps its id, a new one gets len(tokenizer).
  // With `reset` (add_tokens of an AddedToken(normalized=False, special=True)), an added token already there
  // takes those flags: no stripping any more.
  void register_special(SpecialToken& t, bool reset = false) {
    if (t.content.empty()) return;
    for (auto& a : added_list_)
      if (a.content == t.content) {
        t.id = a.id;
        if (reset) {
          a.lstrip = a.rstrip = a.single_word = a.normalized = false;
          a.special = true;
        }
        return;
      }
    if (!t.present()) {
      t.id = static_cast<int32_t>(pieces_ + extra_);
      ++extra_;
    }
    hf::AddedVocabulary::Token a;
    a.id = t.id;
    a.content = t.content;
    a.special = true;
    added_list_.push_back(a);
  }

  // The trie over every added token, all_special_tokens / all_special_ids, and the legacy added tokens.
  void rebuild() {
    added_.build(added_list_, nullptr);
    all_special_.clear();
    all_special_ids_.clear();
    legacy_added_.clear();
    const auto& s = special_;
    auto note = [&](const SpecialToken& t) {
      if (t.content.empty()) return;
      all_special_.insert(t.content);
      if (t.present()) all_special_ids_.insert(t.id);
    };
    for (const SpecialToken* t : {&s.bos, &s.eos, &s.unk, &s.sep, &s.pad, &s.cls, &s.mask}) note(*t);
    for (const auto& t : s.additional) note(t);
    for (const auto& a : added_list_)
      if (!all_special_.count(a.content)) legacy_added_.insert(a.content);
    for (const auto& t : s.additional)
      if (t.present() && t.id >= pieces_) legacy_added_.insert(t.content);
  }

  std::string piece(int id) const {
    std::string s(64, '\0');
    int n = api_.id_to_piece(handle_, id, s.data(), static_cast<int>(s.size()));
    if (n > static_cast<int>(s.size())) {
      s.resize(n);
      n = api_.id_to_piece(handle_, id, s.data(), n);
    }
    s.resize(std::max(n, 0));
    return s;
  }

  void sp_encode(void* handle, std::string_view text, std::vector<int32_t>& out) const {
    std::vector<int> buf(text.size() + 16);
    int n = api_.encode(handle, text.data(), static_cast<int>(text.size()), buf.data(), static_cast<int>(buf.size()));
    MVB_CHECK(n >= 0, "SentencePiece encode failed");
    if (n > static_cast<int>(buf.size())) {
      buf.resize(n);
      n = api_.encode(handle, text.data(), static_cast<int>(text.size()), buf.data(), n);
    }
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }

  std::string sp_decode(const std::vector<int32_t>& ids) const {
    if (ids.empty()) return "";
    std::vector<int> v(ids.begin(), ids.end());
    std::string s(ids.size() * 8 + 16, '\0');
    int n = api_.decode(handle_, v.data(), static_cast<int>(v.size()), s.data(), static_cast<int>(s.size()));
    MVB_CHECK(n >= 0, "SentencePiece decode failed");
    if (n > static_cast<int>(s.size())) {
      s.resize(n);
      n = api_.decode(handle_, v.data(), static_cast<int>(v.size()), s.data(), n);
    }
    s.resize(n);
    return s;
  }

  // sp_model.decode(pieces) on piece strings.
  std::string sp_decode_pieces(void* handle, const std::vector<std::string>& pieces) const {
    if (pieces.empty()) return "";
    std::vector<const char*> ptrs;
    std::vector<int> lens;
    size_t total = 16;
    for (const auto& p : pieces) {
      ptrs.push_back(p.data());
      lens.push_back(static_cast<int>(p.size()));
      total += p.size() * 2 + 8;
    }
    std::string s(total, '\0');
    int n = api_.decode_pieces(handle, ptrs.data(), lens.data(), static_cast<int>(pieces.size()), s.data(),
                               static_cast<int>(s.size()));
    MVB_CHECK(n >= 0, "SentencePiece decode failed");
    if (n > static_cast<int>(s.size())) {
      s.resize(n);
      n = api_.decode_pieces(handle, ptrs.data(), lens.data(), static_cast<int>(pieces.size()), s.data(), n);
    }
    s.resize(n);
    return s;
  }

  // convert_tokens_to_string of the slow classes. LlamaTokenizer: the first token loses one leading
  // "\u2581" (add_prefix_space), special tokens are not decoded by SentencePiece, legacy puts a space
  // before a special token that follows text, and a space goes after a leading special token when the
  // next piece has no "\u2581". T5Tokenizer / SiglipTokenizer (spiece.model): the legacy rule only.
  std::string tokens_to_string(const std::vector<int32_t>& ids) const {
    if (t5_like_) {
      std::string out;
      std::vector<int32_t> sub;
      bool prev_special = false;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (all_special_.count(id_to_token(ids[i]))) {
          if (!prev_special && i != 0) out += ' ';
          out += sp_decode(sub) + id_to_token(ids[i]);
          sub.clear();
          prev_special = true;
        } else {
          sub.push_back(ids[i]);
          prev_special = false;
        }
      }
      return out + sp_decode(sub);
    }
    void* sp = legacy_ ? handle_ : no_prefix_;
    std::vector<std::string> tokens;
    for (int32_t id : ids) tokens.push_back(id_to_token(id));
    if (!tokens.empty() && add_prefix_space_ && tokens[0].rfind(kMeta, 0) == 0) tokens[0].erase(0, kMeta.size());
    std::string out;
    std::vector<std::string> sub;
    bool prev_special = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (all_special_.count(tokens[i])) {
        if (!prev_special && i != 0 && legacy_) out += ' ';
        out += sp_decode_pieces(sp, sub) + tokens[i];
        sub.clear();
        prev_special = true;
      } else {
        if (prev_special && i == 1 && add_prefix_space_ && tokens[i].rfind(kMeta, 0) != 0) out += ' ';
        sub.push_back(tokens[i]);
        prev_special = false;
      }
    }
    return out + sp_decode_pieces(sp, sub);
  }

  const spm::Api& api_;
  void* handle_ = nullptr;
  int32_t pieces_ = 0;
  int64_t extra_ = 0;
  hf::AddedVocabulary added_;
  std::vector<hf::AddedVocabulary::Token> added_list_;
  std::unordered_set<std::string> all_special_;   // all_special_tokens
  std::unordered_set<int32_t> all_special_ids_;   // all_special_ids
  std::unordered_set<std::string> legacy_added_;  // _decode's legacy_added_tokens
  bool add_bos_ = true, add_eos_ = false;
  bool siglip_canonicalize_ = false;
  bool t5_like_ = false;
  bool legacy_ = true;            // LlamaTokenizer legacy
  bool add_prefix_space_ = true;  // LlamaTokenizer add_prefix_space
  void* no_prefix_ = nullptr;     // the model without the dummy prefix (legacy=False)
  size_t unk_length_ = 0;
  bool siglip_lowercase_ = false;
};

}  // namespace

void train_sentencepiece(const std::string& args) { spm::train(args); }

std::string sentencepiece_module_path() {
  spm::api();
  return spm::module_path();
}

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path, const std::string& folder) {
  return std::make_unique<SentencePieceTokenizer>(model_path, folder);
}

}  // namespace mvb::text
