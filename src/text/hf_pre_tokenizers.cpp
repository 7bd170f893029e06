// tokenizer.json "pre_tokenizer" section, and the NormalizedString::split behaviours.
#include <algorithm>
#include <memory>

#include "hf_pipeline.h"
#include "medvlmbench/core/error.h"
#include "regex.h"
#include "unicode.h"

namespace mvb::text::hf {

SplitBehavior parse_behavior(const std::string& s) {
  if (s == "Removed" || s == "removed") return SplitBehavior::Removed;
  if (s == "Isolated" || s == "isolated") return SplitBehavior::Isolated;
  if (s == "MergedWithPrevious" || s == "merged_with_previous") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext" || s == "merged_with_next") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous" || s == "contiguous") return SplitBehavior::Contiguous;
  throw Error("tokenizer.json: unknown split behavior '" + s + "'");
}

void split_piece(const Piece& piece, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out) {
  const std::string& s = piece.text;
  // Ranges covering the whole string, flagged as match or not (Pattern::find_matches).
  struct Range {
    size_t b, e;
    bool match;
  };
  std::vector<Range> ranges;
  ranges.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (prev != b) ranges.push_back({prev, b, invert});
    ranges.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != s.size()) ranges.push_back({prev, s.size(), invert});

  std::vector<Range> kept;  // match flag now means "remove"
  kept.reserve(ranges.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (auto r : ranges) kept.push_back({r.b, r.e, false});
      break;
    case SplitBehavior::Removed:
      kept = ranges;
      break;
    case SplitBehavior::Contiguous: {
      bool previous = false;
      for (const auto& r : ranges) {
        if (r.match == previous && !kept.empty()) {
          kept.back().e = r.e;
        } else {
          kept.push_back({r.b, r.e, false});
        }
        previous = r.match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous = false;
      for (const auto& r : ranges) {
        if (r.match && !previous && !kept.empty()) {
          kept.back().e = r.e;
        } else {
          kept.push_back({r.b, r.e, false});
        }
        previous = r.match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous = false;
      for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        if (it->match && !previous && !kept.empty()) {
          kept.back().b = it->b;
        } else {
          kept.push_back({it->b, it->e, false});
        }
        previous = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const auto& r : kept) {
    if (r.match || r.e == r.b) continue;
    out.push_back(Piece{s.substr(r.b, r.e - r.b), piece.at_origin && r.b == 0});
  }
}

namespace {

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

// Applies `split` to every piece.
template <class F>
void split_all(std::vector<Piece>& pieces, F&& split) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (const auto& p : pieces) split(p, out);
  pieces.swap(out);
}

class SplitRegex : public PreTokenizer {
 public:
  SplitRegex(const std::string& source, SplitBehavior b, bool invert) : re_(source), behavior_(b), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      split_piece(p, re_.find_all(p.text), behavior_, invert_, out);
    });
  }

 private:
  Regex re_;
  SplitBehavior behavior_;
  bool invert_;
};

// Split on a literal string (no regex engine needed).
class SplitLiteral : public PreTokenizer {
 public:
  SplitLiteral(std::string lit, SplitBehavior b, bool invert) : lit_(std::move(lit)), behavior_(b), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      std::vector<std::pair<size_t, size_t>> m;
      if (!lit_.empty()) {
        size_t pos = 0, hit;
        while ((hit = p.text.find(lit_, pos)) != std::string::npos) {
          m.emplace_back(hit, hit + lit_.size());
          pos = hit + lit_.size();
        }
      }
      split_piece(p, m, behavior_, invert_, out);
    });
  }

 private:
  std::string lit_;
  SplitBehavior behavior_;
  bool invert_;
};

template <class Pred>
class SplitChars : public PreTokenizer {
 public:
  SplitChars(Pred pred, SplitBehavior b) : pred_(pred), behavior_(b) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      split_piece(p, char_matches(p.text, pred_), behavior_, /*invert=*/false, out);
    });
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
};

template <class Pred>
std::unique_ptr<PreTokenizer> split_chars(Pred pred, SplitBehavior b) {
  return std::make_unique<SplitChars<Pred>>(pred, b);
}

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex)
      re_ = std::make_unique<Regex>(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_ || re_) {
      split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
        Piece q = p;
        if (add_prefix_space_ && (q.text.empty() || q.text[0] != ' ')) q.text.insert(0, " ");
        if (re_) {
          split_piece(q, re_->find_all(q.text), SplitBehavior::Isolated, /*invert=*/false, out);
        } else {
          out.push_back(std::move(q));
        }
      });
    }
    const auto& table = byte_to_unicode();
    for (auto& p : pieces) {
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      for (unsigned char c : p.text) mapped += table[c];
      p.text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(std::string replacement, std::string scheme, bool split)
      : rep_(std::move(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      Piece q{std::string(), p.at_origin};
      q.text.reserve(p.text.size() + 8);
      for (char c : p.text) {
        if (c == ' ') {
          q.text += rep_;
        } else {
          q.text.push_back(c);
        }
      }
      const bool starts = q.text.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == "always" || (scheme_ == "first" && p.at_origin))) q.text.insert(0, rep_);
      if (!split_) {
        out.push_back(std::move(q));
        return;
      }
      std::vector<std::pair<size_t, size_t>> m;
      size_t pos = 0, hit;
      while ((hit = q.text.find(rep_, pos)) != std::string::npos) {
        m.emplace_back(hit, hit + rep_.size());
        pos = hit + rep_.size();
      }
      split_piece(q, m, SplitBehavior::MergedWithNext, /*invert=*/false, out);
    });
  }

 private:
  std::string rep_, scheme_;
  bool split_;
};

}  // namespace

std::string pattern_source(const json& pattern) {
  if (pattern.contains("Regex")) return pattern.at("Regex").get<std::string>();
  if (pattern.contains("String")) return Regex::escape(pattern.at("String").get<std::string>());
  throw Error("tokenizer.json: a pattern must be {\"String\":...} or {\"Regex\":...}, got " + pattern.dump());
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const auto& p : j.at("pretokenizers"))
      if (auto n = make_pre_tokenizer(p)) parts.push_back(std::move(n));
    return std::make_unique<Sequence>(std::move(parts));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(j.value("add_prefix_space", true), j.value("use_regex", true));
  if (type == "Split") {
    const auto behavior = parse_behavior(j.at("behavior").get<std::string>());
    const bool invert = j.value("invert", false);
    const auto& pat = j.at("pattern");
    if (pat.contains("String"))
      return std::make_unique<SplitLiteral>(pat["String"].get<std::string>(), behavior, invert);
    return std::make_unique<SplitRegex>(pattern_source(pat), behavior, invert);
  }
  if (type == "Whitespace") {
    // tokenizers uses the Rust regex crate here, whose Unicode \w (UTS#18) also covers marks, Pc and
    // joiners but only decimal digits; PCRE2's \w differs, so the classes are spelled out.
    const std::string w = R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control})";
    return std::make_unique<SplitRegex>("[" + w + "]+|[^" + w + R"(\p{White_Space}]+)", SplitBehavior::Removed,
                                        /*invert=*/true);
  }
  if (type == "WhitespaceSplit")
    return split_chars([](char32_t c) { return uni::is_whitespace(c); }, SplitBehavior::Removed);
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    parts.push_back(split_chars([](char32_t c) { return uni::is_whitespace(c); }, SplitBehavior::Removed));
    parts.push_back(split_chars([](char32_t c) { return uni::is_bert_punctuation(c); }, SplitBehavior::Isolated));
    return std::make_unique<Sequence>(std::move(parts));
  }
  if (type == "Punctuation")
    return split_chars([](char32_t c) { return uni::is_bert_punctuation(c); },
                       parse_behavior(j.value("behavior", std::string("Isolated"))));
  if (type == "Digits")
    return split_chars([](char32_t c) { return uni::is_numeric(c); },  // Rust char::is_numeric
                       j.value("individual_digits", false) ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
  if (type == "CharDelimiterSplit") {
    const std::string d = j.at("delimiter").get<std::string>();
    return std::make_unique<SplitLiteral>(d, SplitBehavior::Removed, /*invert=*/false);
  }
  if (type == "Metaspace") {
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      scheme = j["prepend_scheme"].get<std::string>();
    } else if (j.contains("add_prefix_space") && !j.value("add_prefix_space", true)) {
      scheme = "never";
    }
    return std::make_unique<Metaspace>(j.value("replacement", std::string("\xE2\x96\x81")), scheme,
                                       j.value("split", true));
  }
  unsupported("pre_tokenizer", j);
}

}  // namespace mvb::text::hf
