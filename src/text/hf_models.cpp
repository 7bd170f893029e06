// tokenizer.json "model" section: BPE, WordPiece, WordLevel, Unigram, with the exact algorithms of
// Hugging Face `tokenizers` (merge order, unknown-token fusing, byte fallback, Viterbi tie-breaks).
#include <cstdio>
#include <limits>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "hf_pipeline.h"
#include "medvlmbench/core/error.h"
#include "unicode.h"

namespace mvb::text::hf {

int32_t token_id(const json& id, std::string_view what) {
  const bool ok =
      id.is_number_integer() && (id.is_number_unsigned() ? id.get<uint64_t>() < uint64_t{kMaxTokenId}
                                                         : id.get<int64_t>() >= 0 && id.get<int64_t>() < kMaxTokenId);
  MVB_CHECK(ok, "tokenizer: ", what, " has id ", id.dump(), "; ids must be integers in [0, ", kMaxTokenId,
            ") (corrupt tokenizer file)");
  return static_cast<int32_t>(id.get<int64_t>());
}

size_t count_setting(const json& j, const char* key, size_t fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  MVB_CHECK(v.is_number_integer() && (v.is_number_unsigned() || v.get<int64_t>() >= 0), "tokenizer: ", key, " is ",
            v.dump(), "; expected a non-negative integer (corrupt tokenizer file)");
  return static_cast<size_t>(v.get<uint64_t>());
}

namespace {

// Vocabulary shared by all models: token <-> id.
struct Vocab {
  std::unordered_map<std::string, int32_t> to_id;
  std::vector<std::string> to_token;
  std::vector<bool> present;

  void add(const std::string& tok, int32_t id) {
    MVB_CHECK(id >= 0, "tokenizer.json: negative id for token '", tok, "'");
    to_id[tok] = id;
    if (static_cast<size_t>(id) >= to_token.size()) {
      to_token.resize(id + 1);
      present.resize(id + 1, false);
    }
    to_token[id] = tok;
    present[id] = true;
  }
  std::optional<int32_t> find(const std::string& tok) const {
    auto it = to_id.find(tok);
    if (it == to_id.end()) return std::nullopt;
    return it->second;
  }
  std::optional<int32_t> find(std::string_view tok) const { return find(std::string(tok)); }
  std::optional<int32_t> find(const char* tok) const { return find(std::string(tok)); }
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= to_token.size() || !present[id]) return nullptr;
    return &to_token[id];
  }
};

Vocab vocab_from_object(const json& v) {
  Vocab vocab;
  vocab.to_id.reserve(v.size() * 2);
  for (auto it = v.begin(); it != v.end(); ++it) vocab.add(it.key(), token_id(it.value(), "token '" + it.key() + "'"));
  return vocab;
}

std::string byte_token(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

class BPE : public Model {
 public:
  explicit BPE(const json& j) {
    vocab_ = vocab_from_object(j.at("vocab"));
    auto opt_str = [&](const char* key) -> std::optional<std::string> {
      if (!j.contains(key) || j[key].is_null()) return std::nullopt;
      return j[key].get<std::string>();
    };
    unk_ = opt_str("unk_token");
    prefix_ = opt_str("continuing_subword_prefix");
    suffix_ = opt_str("end_of_word_suffix");
    fuse_unk_ = j.value("fuse_unk", false);
    byte_fallback_ = j.value("byte_fallback", false);
    ignore_merges_ = j.value("ignore_merges", false);
    MVB_CHECK(!j.contains("dropout") || j["dropout"].is_null() || j["dropout"].get<double>() == 0.0,
              "tokenizer.json: BPE dropout is not supported at inference");
    if (unk_) {
      auto id = vocab_.find(*unk_);
      MVB_CHECK(id.has_value(), "tokenizer.json: BPE unk_token '", *unk_, "' is not in the vocabulary");
      unk_id_ = *id;
    }
    if (byte_fallback_)
      for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.find(byte_token(static_cast<unsigned char>(b))).value_or(-1);
    const auto& merges = j.at("merges");
    merges_.reserve(merges.size() * 2);
    int32_t rank = 0;
    for (const auto& m : merges) {
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        MVB_CHECK(sp != std::string::npos, "tokenizer.json: BPE merge '", s, "' is not 'a b'");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {
        a = m.at(0).get<std::string>();
        b = m.at(1).get<std::string>();
      }
      const auto ia = vocab_.find(a), ib = vocab_.find(b);
      std::string merged = a;
      if (prefix_ && b.compare(0, prefix_->size(), *prefix_) == 0) {
        merged += b.substr(prefix_->size());
      } else {
        merged += b;
      }
      const auto im = vocab_.find(merged);
      MVB_CHECK(ia && ib && im, "tokenizer.json: BPE merge '", a, " ", b, "' uses a token not in the vocabulary");
      merges_.emplace(key(*ia, *ib), std::make_pair(rank++, *im));
    }
  }

  void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      if (auto id = vocab_.find(word)) {
        out.push_back(*id);
        return;
      }
    }
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(std::string(word));
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = merge_word(word);
    out.insert(out.end(), ids.begin(), ids.end());
    if (word.size() < 256) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::move(ids));
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t size() const override { return static_cast<int64_t>(vocab_.to_id.size()); }

 private:
  static constexpr size_t kCacheCapacity = 10000;
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };

  std::vector<int32_t> merge_word(std::string_view w) const {
    std::vector<Symbol> sym;
    sym.reserve(w.size());
    auto add = [&](int32_t id) {
      const int32_t n = static_cast<int32_t>(sym.size());
      sym.push_back({id, n - 1, n + 1, true});
    };
    int32_t pending_unk = -1;  // unknown run not yet emitted (fused when fuse_unk)
    size_t i = 0;
    std::string s;
    while (i < w.size()) {
      const size_t b = i;
      uni::next_cp(w, i);
      const bool first = b == 0, last = i >= w.size();
      s.assign(w.data() + b, i - b);
      if (!first && prefix_) s.insert(0, *prefix_);
      if (last && suffix_) s += *suffix_;
      if (auto id = vocab_.find(s)) {
        if (pending_unk >= 0) {
          add(pending_unk);
          pending_unk = -1;
        }
        add(*id);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char c : s) all = all && byte_ids_[c] >= 0;
        if (all) {
          // As in tokenizers: a pending unknown run is not flushed before byte tokens.
          for (unsigned char c : s) add(byte_ids_[c]);
          continue;
        }
      }
      if (unk_) {
        if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
        pending_unk = unk_id_;
      }
    }
    if (pending_unk >= 0) add(pending_unk);
    if (sym.empty()) return {};
    sym.back().next = -1;

    struct Merge {
      int32_t pos, rank, new_id;
    };
    auto worse = [](const Merge& a, const Merge& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
    std::priority_queue<Merge, std::vector<Merge>, decltype(worse)> queue(worse);
    for (size_t k = 0; k + 1 < sym.size(); ++k) {
      auto it = merges_.find(key(sym[k].id, sym[k + 1].id));
      if (it != merges_.end()) queue.push({static_cast<int32_t>(k), it->second.first, it->second.second});
    }
    while (!queue.empty()) {
      const Merge top = queue.top();
      queue.pop();
      Symbol& cur = sym[top.pos];
      if (!cur.alive || cur.next == -1) continue;
      const int32_t next_pos = cur.next;
      auto it = merges_.find(key(cur.id, sym[next_pos].id));
      if (it == merges_.end() || it->second.second != top.new_id) continue;
      cur.id = top.new_id;
      sym[next_pos].alive = false;
      cur.next = sym[next_pos].next;
      if (cur.next >= 0) sym[cur.next].prev = top.pos;
      if (cur.prev >= 0) {
        auto p = merges_.find(key(sym[cur.prev].id, cur.id));
        if (p != merges_.end()) queue.push({cur.prev, p->second.first, p->second.second});
      }
      if (cur.next >= 0) {
        auto n = merges_.find(key(cur.id, sym[cur.next].id));
        if (n != merges_.end()) queue.push({top.pos, n->second.first, n->second.second});
      }
    }
    std::vector<int32_t> ids;
    for (const auto& x : sym)
      if (x.alive) ids.push_back(x.id);
    return ids;
  }

  Vocab vocab_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a,b) -> (rank, merged id)
  std::optional<std::string> unk_, prefix_, suffix_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

class WordPiece : public Model {
 public:
  explicit WordPiece(const json& j) {
    vocab_ = vocab_from_object(j.at("vocab"));
    unk_ = j.value("unk_token", std::string("[UNK]"));
    prefix_ = j.value("continuing_subword_prefix", std::string("##"));
    max_chars_ = count_setting(j, "max_input_chars_per_word", 100);
  }
  void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
    if (uni::count_chars(word) > max_chars_) {
      out.push_back(unk_id());
      return;
    }
    std::vector<int32_t> sub;
    size_t start = 0;
    std::string candidate;
    while (start < word.size()) {
      size_t end = word.size();
      std::optional<int32_t> found;
      while (start < end) {
        candidate.clear();
        if (start > 0) candidate = prefix_;
        candidate.append(word.data() + start, end - start);
        if ((found = vocab_.find(candidate))) break;
        // Drop the last character.
        --end;
        while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
      }
      if (!found) {
        out.push_back(unk_id());
        return;
      }
      sub.push_back(*found);
      start = end;
    }
    out.insert(out.end(), sub.begin(), sub.end());
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t size() const override { return static_cast<int64_t>(vocab_.to_id.size()); }

 private:
  int32_t unk_id() const {
    auto id = vocab_.find(unk_);
    MVB_CHECK(id.has_value(), "tokenizer: WordPiece unk_token '", unk_, "' is not in the vocabulary");
    return *id;
  }
  Vocab vocab_;
  std::string unk_, prefix_;
  size_t max_chars_;
};

class WordLevel : public Model {
 public:
  explicit WordLevel(const json& j) {
    vocab_ = vocab_from_object(j.at("vocab"));
    unk_ = j.value("unk_token", std::string("<unk>"));
  }
  void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
    auto id = vocab_.find(word);
    if (!id) id = vocab_.find(unk_);
    MVB_CHECK(id.has_value(), "tokenizer: WordLevel unk_token '", unk_, "' is not in the vocabulary");
    out.push_back(*id);
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t size() const override { return static_cast<int64_t>(vocab_.to_id.size()); }

 private:
  Vocab vocab_;
  std::string unk_;
};

class Unigram : public Model {
 public:
  explicit Unigram(const json& j) {
    const auto& v = j.at("vocab");
    scores_.reserve(v.size());
    double min_score = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < v.size(); ++id) {
      const std::string piece = v[id].at(0).get<std::string>();
      const double score = v[id].at(1).get<double>();
      vocab_.add(piece, static_cast<int32_t>(id));
      scores_.push_back(score);
      min_score = std::min(min_score, score);
      max_len_ = std::max(max_len_, piece.size());
    }
    unk_score_ = min_score - 10.0;
    if (j.contains("unk_id") && !j["unk_id"].is_null()) unk_id_ = token_id(j["unk_id"], "Unigram unk_id");
    byte_fallback_ = j.value("byte_fallback", false);
  }

  void tokenize(std::string_view s, std::vector<int32_t>& out) const override {
    if (s.empty()) return;
    struct Best {
      double score = 0;
      int64_t start = -1;
      int32_t id = -1;
    };
    std::vector<Best> best(s.size() + 1);
    size_t pos = 0;
    std::string key;
    while (pos < s.size()) {
      const double here = best[pos].score;
      size_t next = pos;
      uni::next_cp(s, next);
      const size_t mblen = next - pos;
      bool single = false;
      const size_t maxn = std::min(max_len_, s.size() - pos);
      for (size_t n = 1; n <= maxn; ++n) {
        key.assign(s.data() + pos, n);
        auto id = vocab_.find(key);
        if (!id) continue;
        const double cand = scores_[*id] + here;
        Best& t = best[pos + n];
        if (t.start < 0 || cand > t.score) t = {cand, static_cast<int64_t>(pos), *id};
        if (n == mblen) single = true;
      }
      if (!single) {
        MVB_CHECK(unk_id_ >= 0, "tokenizer: Unigram model has no unk_id for an unknown character");
        const double cand = unk_score_ + here;
        Best& t = best[pos + mblen];
        if (t.start < 0 || cand > t.score) t = {cand, static_cast<int64_t>(pos), unk_id_};
      }
      pos = next;
    }
    // Backtrack; consecutive unknown pieces fuse into one string.
    std::vector<std::string> pieces;
    std::vector<std::string> unk_run;
    size_t end = s.size();
    while (end > 0) {
      const Best& b = best[end];
      const size_t start = static_cast<size_t>(b.start);
      if (b.id == unk_id_) {
        unk_run.emplace_back(s.substr(start, end - start));
      } else {
        if (!unk_run.empty()) {
          pieces.push_back(join_reversed(unk_run));
          unk_run.clear();
        }
        pieces.push_back(vocab_.to_token[b.id]);
      }
      end = start;
    }
    if (!unk_run.empty()) pieces.push_back(join_reversed(unk_run));
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
      if (auto id = vocab_.find(*it)) {
        out.push_back(*id);
        continue;
      }
      if (byte_fallback_) {
        std::vector<int32_t> bytes;
        for (unsigned char c : *it)
          if (auto id = vocab_.find(byte_token(c))) bytes.push_back(*id);
        if (bytes.size() == it->size()) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      out.push_back(unk_id_);
    }
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t size() const override { return static_cast<int64_t>(vocab_.to_token.size()); }

 private:
  static std::string join_reversed(const std::vector<std::string>& parts) {
    std::string s;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) s += *it;
    return s;
  }
  Vocab vocab_;
  std::vector<double> scores_;
  size_t max_len_ = 0;
  double unk_score_ = 0;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
};

}  // namespace

std::unique_ptr<Model> make_model(const json& j) {
  std::string type = j.value("type", std::string());
  if (type.empty()) {  // older files omit the type; infer it from the fields
    if (j.contains("merges")) {
      type = "BPE";
    } else if (j.contains("continuing_subword_prefix")) {
      type = "WordPiece";
    } else if (j.contains("vocab") && j["vocab"].is_array()) {
      type = "Unigram";
    } else {
      type = "WordLevel";
    }
  }
  if (type == "BPE") return std::make_unique<BPE>(j);
  if (type == "WordPiece") return std::make_unique<WordPiece>(j);
  if (type == "WordLevel") return std::make_unique<WordLevel>(j);
  if (type == "Unigram") return std::make_unique<Unigram>(j);
  unsupported("model", j);
}

}  // namespace mvb::text::hf
