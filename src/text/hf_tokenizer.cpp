#include "hf_tokenizer.h"

#include <unordered_set>

#include "medvlmbench/core/error.h"
#include "unicode.h"

namespace mvb::text::hf {

// ---- AddedVocabulary ----------------------------------------------------------------------------

int32_t AddedVocabulary::Trie::add_node() {
  token_at.push_back(-1);
  return static_cast<int32_t>(token_at.size() - 1);
}

void AddedVocabulary::Trie::insert(std::string_view key, int32_t token_index) {
  if (token_at.empty()) add_node();
  int32_t node = 0;
  for (unsigned char c : key) {
    const uint64_t k = (uint64_t(node) << 8) | c;
    auto it = edges.find(k);
    if (it == edges.end()) {
      const int32_t child = add_node();
      edges.emplace(k, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  if (token_at[node] < 0) token_at[node] = token_index;
}

void AddedVocabulary::build(std::vector<Token> tokens, const Normalizer* normalizer) {
  tokens_ = std::move(tokens);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const Token& t = tokens_[i];
    by_id_[t.id] = i;
    by_content_[t.content] = t.id;
    if (t.content.empty()) continue;
    if (t.normalized) {
      std::string key = t.content;
      if (normalizer) normalizer->normalize(key);
      normalized_.insert(key, static_cast<int32_t>(i));
    } else {
      raw_.insert(t.content, static_cast<int32_t>(i));
    }
  }
}

namespace {
bool is_word_char(char32_t c) { return c == '_' || uni::is_alphanumeric(c); }

char32_t last_char(std::string_view s) {
  size_t k = s.size() - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return uni::next_cp(s, k);
}
}  // namespace

std::vector<AddedVocabulary::Split> AddedVocabulary::split(std::string_view text, bool normalized_kind) const {
  const Trie& trie = normalized_kind ? normalized_ : raw_;
  std::vector<Split> out;
  if (trie.token_at.empty()) {
    out.push_back({0, text.size(), -1});
    return out;
  }
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // Longest added token starting at pos (leftmost-longest, as aho-corasick in tokenizers).
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t k = pos; k < text.size(); ++k) {
      auto it = trie.edges.find((uint64_t(node) << 8) | static_cast<unsigned char>(text[k]));
      if (it == trie.edges.end()) break;
      node = it->second;
      if (trie.token_at[node] >= 0) {
        best = trie.token_at[node];
        best_end = k + 1;
      }
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    const Token& tok = tokens_[best];
    size_t start = pos, stop = best_end;
    if (tok.single_word) {
      const bool start_ok = start == 0 || !is_word_char(last_char(text.substr(0, start)));
      size_t q = stop;
      const bool stop_ok = stop == text.size() || !is_word_char(uni::next_cp(text, q));
      if (!start_ok || !stop_ok) {
        pos = best_end;  // find_iter resumes after the rejected match
        continue;
      }
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t k = s - 1;
        while (k > 0 && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
        size_t t = k;
        if (!uni::is_whitespace(uni::next_cp(text, t))) break;
        s = k;
      }
      start = std::max(s, start_offset);
    }
    if (tok.rstrip) {
      size_t k = stop;
      while (k < text.size()) {
        size_t t = k;
        if (!uni::is_whitespace(uni::next_cp(text, t))) break;
        k = t;
      }
      stop = k;
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
    pos = best_end;
  }
  if (start_offset != text.size() || out.empty()) out.push_back({start_offset, text.size(), -1});
  return out;
}

const AddedVocabulary::Token* AddedVocabulary::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::id_of(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

// ---- HfTokenizer --------------------------------------------------------------------------------

HfTokenizer::HfTokenizer(const json& j) {
  MVB_CHECK(j.is_object() && j.contains("model"), "tokenizer.json: no \"model\" section (not a tokenizers file?)");
  normalizer_ = make_normalizer(j.value("normalizer", json()));
  pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", json()));
  model_ = make_model(j.at("model"));
  post_processor_ = make_post_processor(j.value("post_processor", json()));
  decoder_ = make_decoder(j.value("decoder", json()));
  // Ids are assigned as tokenizers' AddedVocabulary::add_tokens does when it reads the file: a
  // content already known (added or in the model vocabulary) keeps that id; a new one gets the
  // next id after the model vocabulary / the largest added id. The file's "id" is not consulted.
  std::vector<AddedVocabulary::Token> added;
  std::unordered_map<std::string, size_t> added_index;
  const int64_t model_size = model_->size();
  int64_t max_added = -1;
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& t : j["added_tokens"]) {
      AddedVocabulary::Token a;
      a.content = t.at("content").get<std::string>();
      if (a.content.empty()) continue;
      a.special = t.value("special", false);
      a.single_word = t.value("single_word", false);
      a.lstrip = t.value("lstrip", false);
      a.rstrip = t.value("rstrip", false);
      a.normalized = t.value("normalized", !a.special);
      auto known = added_index.find(a.content);
      if (known != added_index.end()) {
        a.id = added[known->second].id;
        added[known->second] = a;  // re-added with other flags: the later flags win
        continue;
      }
      if (auto id = model_->token_to_id(a.content)) {
        a.id = *id;
      } else if (max_added < 0) {
        a.id = static_cast<int32_t>(model_size);
      } else {
        a.id = static_cast<int32_t>(max_added >= model_size || model_size == 0 ? max_added + 1 : model_size);
      }
      max_added = std::max<int64_t>(max_added, a.id);
      added_index[a.content] = added.size();
      added.push_back(std::move(a));
    }
  }
  // len(tokenizer): distinct tokens of the model vocabulary plus the added ones.
  int64_t extra = 0;
  for (const auto& a : added)
    if (!model_->token_to_id(a.content)) ++extra;
  vocab_size_ = model_size + extra;
  added_.build(std::move(added), normalizer_.get());
}

std::vector<int32_t> HfTokenizer::encode(std::string_view input, bool add_special_tokens) const {
  const std::string text = uni::sanitize_utf8(input);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<Piece> pieces;
  for (const auto& raw : added_.split(text, /*normalized_kind=*/false)) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    if (raw.e == raw.b) continue;
    std::string normalized = text.substr(raw.b, raw.e - raw.b);
    if (normalizer_) normalizer_->normalize(normalized);
    for (const auto& ns : added_.split(normalized, /*normalized_kind=*/true)) {
      if (ns.id >= 0) {
        ids.push_back(ns.id);
        continue;
      }
      if (ns.e == ns.b) continue;
      pieces.clear();
      pieces.push_back(Piece{normalized.substr(ns.b, ns.e - ns.b), raw.b == 0 && ns.b == 0});
      if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
      for (const auto& p : pieces)
        if (!p.text.empty()) model_->tokenize(p.text, ids);
    }
  }
  if (add_special_tokens) return this->add_special_tokens(std::move(ids));
  return ids;
}

std::vector<int32_t> HfTokenizer::add_special_tokens(std::vector<int32_t> ids) const {
  return post_processor_ ? post_processor_->process(std::move(ids)) : ids;
}

std::string HfTokenizer::decode_raw(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const auto* added = added_.by_id(id);
    if (added) {
      if (skip_special_tokens && added->special) continue;
      tokens.push_back(added->content);
      continue;
    }
    const std::string* t = model_->id_to_token(id);
    if (!t) continue;  // unknown ids are dropped, as tokenizers does
    if (skip_special_tokens && added_.id_of(*t) && added_.by_id(*added_.id_of(*t))->special) continue;
    tokens.push_back(*t);
  }
  if (!decoder_) {
    std::string s;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) s += ' ';
      s += tokens[i];
    }
    return s;
  }
  std::string out;
  for (const auto& part : decoder_->decode_chain(std::move(tokens))) out += part;
  return out;
}

std::optional<int32_t> HfTokenizer::token_to_id(std::string_view token) const {
  if (auto id = added_.id_of(token)) return id;
  return model_->token_to_id(token);
}

std::string HfTokenizer::id_to_token(int32_t id) const {
  if (const auto* a = added_.by_id(id)) return a->content;
  const std::string* t = model_->id_to_token(id);
  return t ? *t : std::string();
}

bool HfTokenizer::is_special_id(int32_t id) const {
  const auto* a = added_.by_id(id);
  return a && a->special;
}

namespace {
class BosEos : public PostProcessor {
 public:
  BosEos(std::optional<int32_t> bos, std::optional<int32_t> eos) : bos_(bos), eos_(eos) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    if (bos_) ids.insert(ids.begin(), *bos_);
    if (eos_) ids.push_back(*eos_);
    return ids;
  }

 private:
  std::optional<int32_t> bos_, eos_;
};
}  // namespace

void HfTokenizer::set_bos_eos_template(std::optional<int32_t> bos, std::optional<int32_t> eos) {
  post_processor_ = std::make_unique<BosEos>(bos, eos);
}

}  // namespace mvb::text::hf
