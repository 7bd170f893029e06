// tokenizer.json "post_processor" and "decoder" sections.
#include <memory>

#include "hf_pipeline.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "unicode.h"

namespace mvb::text::hf {

void unsupported(const std::string& section, const json& j) {
  throw Error("tokenizer.json: unsupported " + section + " " + (j.is_object() ? j.value("type", j.dump()) : j.dump()) +
              "; supported are those of the model families medvlmbench runs (see text/tokenizer.h)");
}

const std::vector<std::string>& byte_to_unicode() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = uni::to_utf8(printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++));
    }
    return t;
  }();
  return table;
}

const std::unordered_map<char32_t, uint8_t>& unicode_to_byte() {
  static const std::unordered_map<char32_t, uint8_t> table = [] {
    std::unordered_map<char32_t, uint8_t> t;
    const auto& fwd = byte_to_unicode();
    for (int b = 0; b < 256; ++b) {
      size_t i = 0;
      t[uni::next_cp(fwd[b], i)] = static_cast<uint8_t>(b);
    }
    return t;
  }();
  return table;
}

namespace {

// ---- post-processors ----------------------------------------------------------------------

// A single-sequence template: special-token ids around the sequence.
class Template : public PostProcessor {
 public:
  Template(std::vector<int32_t> before, std::vector<int32_t> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    std::vector<int32_t> out;
    out.reserve(before_.size() + ids.size() + after_.size());
    out.insert(out.end(), before_.begin(), before_.end());
    out.insert(out.end(), ids.begin(), ids.end());
    out.insert(out.end(), after_.begin(), after_.end());
    return out;
  }

 private:
  std::vector<int32_t> before_, after_;
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> p) : parts_(std::move(p)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    for (const auto& p : parts_) ids = p->process(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

std::unique_ptr<PostProcessor> template_processing(const json& j) {
  std::vector<int32_t> before, after;
  bool seen_sequence = false;
  const auto& specials = j.at("special_tokens");
  for (const auto& item : j.at("single")) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    MVB_CHECK(specials.contains(name), "tokenizer.json: TemplateProcessing uses undefined special token ", name);
    auto& dst = seen_sequence ? after : before;
    for (const auto& id : specials[name].at("ids")) dst.push_back(token_id(id, "special token " + name));
  }
  return std::make_unique<Template>(std::move(before), std::move(after));
}

// ---- decoders -----------------------------------------------------------------------------

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> p) : parts_(std::move(p)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> t) const override {
    for (const auto& p : parts_) t = p->decode_chain(std::move(t));
    return t;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

class ByteLevelDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    const auto& table = unicode_to_byte();
    std::string bytes;
    for (const auto& t : tokens) {
      // A token maps to bytes only if every char is a byte-level char; otherwise (added tokens)
      // its UTF-8 is kept as is.
      std::string mapped;
      bool all = true;
      size_t i = 0;
      while (i < t.size() && all) {
        auto it = table.find(uni::next_cp(t, i));
        if (it == table.end()) {
          all = false;
        } else {
          mapped.push_back(static_cast<char>(it->second));
        }
      }
      bytes += all ? mapped : t;
    }
    return {uni::sanitize_utf8(bytes)};  // String::from_utf8_lossy
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) t = replace_all(std::move(t), from_, to_);
    return tokens;
  }

 private:
  std::string from_, to_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t pending_n = 0;
    auto flush = [&] {
      if (pending_n == 0) return;
      if (uni::sanitize_utf8(pending) == pending) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending_n; ++k) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
      pending_n = 0;
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        char* end = nullptr;
        const std::string hex = t.substr(3, 2);
        const long v = std::strtol(hex.c_str(), &end, 16);
        if (end == hex.c_str() + 2) byte = static_cast<int>(v);
      }
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
        ++pending_n;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }
};

class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string s;
    for (const auto& t : tokens) s += t;
    return {s};
  }
};

// Strip: removes up to `start` leading and `stop` trailing occurrences of one character per token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop) : c_(std::move(content)), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && t.compare(b, c_.size(), c_) == 0 && b + c_.size() <= e; ++k) b += c_.size();
      for (size_t k = 0; k < stop_ && e >= b + c_.size() && t.compare(e - c_.size(), c_.size(), c_) == 0; ++k)
        e -= c_.size();
      t = t.substr(b, e - b);
    }
    return tokens;
  }

 private:
  std::string c_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      size_t pos = 0;
      while (pos < t.size()) {
        if (t.compare(pos, rep_.size(), rep_) == 0) {
          if (!(i == 0 && prepend_ && pos == 0)) out.push_back(' ');
          pos += rep_.size();
        } else {
          out.push_back(t[pos++]);
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }

 private:
  std::string rep_;
  bool prepend_;
};

std::string wordpiece_cleanup(std::string s);

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) {
          t = t.substr(prefix_.size());
        } else {
          t.insert(0, " ");
        }
      }
      if (cleanup_) t = wordpiece_cleanup(std::move(t));
    }
    return tokens;
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BPEDecoder : public Decoder {
 public:
  explicit BPEDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string with = i + 1 == tokens.size() ? "" : " ";
      ReplaceDecoder r(suffix_, with);
      tokens[i] = r.decode_chain({tokens[i]})[0];
    }
    return tokens;
  }

 private:
  std::string suffix_;
};

// tokenizers' decoders::wordpiece::cleanup, applied per token (see cleanup_tokenization_spaces below).
std::string wordpiece_cleanup(std::string s) {
  s = replace_all(std::move(s), " .", ".");
  s = replace_all(std::move(s), " ?", "?");
  s = replace_all(std::move(s), " !", "!");
  s = replace_all(std::move(s), " ,", ",");
  s = replace_all(std::move(s), " ' ", "'");
  s = replace_all(std::move(s), " n't", "n't");
  s = replace_all(std::move(s), " 'm", "'m");
  s = replace_all(std::move(s), " do not", " don't");
  s = replace_all(std::move(s), " 's", "'s");
  s = replace_all(std::move(s), " 've", "'ve");
  s = replace_all(std::move(s), " 're", "'re");
  return s;
}

}  // namespace

// transformers' PreTrainedTokenizerBase.clean_up_tokenization. Unlike the Rust WordPiece decoder's
// list above it has no " do not" -> " don't" rule; that rule only ever sees one token at a time in
// the Rust decoder (so never fires), but over a whole decoded string it would rewrite real text.
std::string cleanup_tokenization_spaces(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) s = replace_all(std::move(s), from, to);
  return s;
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.at("type").get<std::string>();
  if (type == "TemplateProcessing") return template_processing(j);
  if (type == "BertProcessing" || type == "RobertaProcessing")
    return std::make_unique<Template>(std::vector<int32_t>{token_id(j.at("cls").at(1), type + " cls")},
                                      std::vector<int32_t>{token_id(j.at("sep").at(1), type + " sep")});
  if (type == "ByteLevel") return nullptr;  // only adjusts offsets
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (const auto& p : j.at("processors"))
      if (auto q = make_post_processor(p)) parts.push_back(std::move(q));
    return std::make_unique<SequenceProcessor>(std::move(parts));
  }
  unsupported("post_processor", j);
}

std::unique_ptr<Decoder> make_decoder(const json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& p : j.at("decoders"))
      if (auto d = make_decoder(p)) parts.push_back(std::move(d));
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    const auto& pat = j.at("pattern");
    MVB_CHECK(pat.contains("String"), "tokenizer.json: Replace decoder with a regex pattern is not supported");
    return std::make_unique<ReplaceDecoder>(pat["String"].get<std::string>(), j.at("content").get<std::string>());
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip")
    return std::make_unique<StripDecoder>(j.at("content").get<std::string>(), j.value("start", size_t(0)),
                                          j.value("stop", size_t(0)));
  if (type == "Metaspace") {
    bool prepend = true;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      prepend = j["prepend_scheme"].get<std::string>() != "never";
    } else if (j.contains("add_prefix_space")) {
      prepend = j.value("add_prefix_space", true);
    }
    return std::make_unique<MetaspaceDecoder>(j.value("replacement", std::string("\xE2\x96\x81")), prepend);
  }
  if (type == "WordPiece")
    return std::make_unique<WordPieceDecoder>(j.value("prefix", std::string("##")), j.value("cleanup", true));
  if (type == "BPEDecoder") return std::make_unique<BPEDecoder>(j.value("suffix", std::string("</w>")));
  unsupported("decoder", j);
}

}  // namespace mvb::text::hf
