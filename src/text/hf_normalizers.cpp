// tokenizer.json "normalizer" section.
#include <memory>

#include "hf_pipeline.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "regex.h"
#include "unicode.h"

namespace mvb::text::hf {
namespace {

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(std::string& s) const override {
    for (const auto& p : parts_) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class Unicode : public Normalizer {
 public:
  explicit Unicode(uni::NormForm f) : form_(f) {}
  void normalize(std::string& s) const override { s = uni::normalize(s, form_); }

 private:
  uni::NormForm form_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(std::string& s) const override { s = uni::lowercase(s); }
};

class StripAccents : public Normalizer {
 public:
  // Like Rust's StripAccents: drops non-spacing marks (expected after an NFD/NFKD normalizer).
  void normalize(std::string& s) const override {
    if (uni::is_ascii(s)) return;
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      const size_t b = i;
      const char32_t c = uni::next_cp(s, i);
      if (!uni::is_mark_nonspacing(c)) out.append(s, b, i - b);
    }
    s = std::move(out);
  }
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      size_t i = 0;
      while (i < e) {
        const size_t at = i;
        if (!uni::is_whitespace(uni::next_cp(s, i))) {
          b = at;
          break;
        }
        b = i;
      }
    }
    if (right_) {
      // Walk back over whitespace characters.
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t t = k;
        if (!uni::is_whitespace(uni::next_cp(s, t))) break;
        e = k;
      }
    }
    s = s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class Replace : public Normalizer {
 public:
  Replace(const json& pattern, std::string content) : content_(std::move(content)) {
    if (pattern.contains("String")) {
      literal_ = pattern.at("String").get<std::string>();
    } else {
      regex_ = std::make_unique<Regex>(pattern_source(pattern));
    }
  }
  void normalize(std::string& s) const override {
    if (!regex_) {
      s = replace_all(std::move(s), literal_, content_);
      return;
    }
    std::string out;
    size_t pos = 0;
    for (const auto& [b, e] : regex_->find_all(s)) {
      out.append(s, pos, b - pos);
      out += content_;
      pos = e;
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

// BertNormalizer: clean text, pad CJK ideographs with spaces, strip accents, lowercase.
class Bert : public Normalizer {
 public:
  Bert(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  void normalize(std::string& s) const override {
    if (clean_ || chinese_) {
      std::string out;
      out.reserve(s.size());
      size_t i = 0;
      while (i < s.size()) {
        const size_t b = i;
        const char32_t c = uni::next_cp(s, i);
        if (clean_) {
          if (c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && uni::is_control_or_other(c))) continue;
          if (c == '\t' || c == '\n' || c == '\r' || uni::is_whitespace(c)) {
            out.push_back(' ');
            continue;
          }
        }
        if (chinese_ && uni::is_chinese_char(c)) {
          out.push_back(' ');
          out.append(s, b, i - b);
          out.push_back(' ');
          continue;
        }
        out.append(s, b, i - b);
      }
      s = std::move(out);
    }
    if (strip_) {
      s = uni::normalize(s, uni::NormForm::NFD);
      StripAccents().normalize(s);
    }
    if (lower_) s = uni::lowercase(s);
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& p : j.at("normalizers"))
      if (auto n = make_normalizer(p)) parts.push_back(std::move(n));
    return std::make_unique<Sequence>(std::move(parts));
  }
  if (type == "NFC") return std::make_unique<Unicode>(uni::NormForm::NFC);
  if (type == "NFD") return std::make_unique<Unicode>(uni::NormForm::NFD);
  if (type == "NFKC") return std::make_unique<Unicode>(uni::NormForm::NFKC);
  if (type == "NFKD") return std::make_unique<Unicode>(uni::NormForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") return std::make_unique<Strip>(j.value("strip_left", true), j.value("strip_right", true));
  if (type == "Prepend") return std::make_unique<Prepend>(j.at("prepend").get<std::string>());
  if (type == "Replace") return std::make_unique<Replace>(j.at("pattern"), j.at("content").get<std::string>());
  if (type == "BertNormalizer") {
    const bool lower = j.value("lowercase", true);
    const bool strip =
        j.contains("strip_accents") && !j["strip_accents"].is_null() ? j["strip_accents"].get<bool>() : lower;
    return std::make_unique<Bert>(j.value("clean_text", true), j.value("handle_chinese_chars", true), strip, lower);
  }
  unsupported("normalizer", j);
}

}  // namespace mvb::text::hf
