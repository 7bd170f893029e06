// The stages of a Hugging Face `tokenizers` pipeline, built from tokenizer.json sections:
//   added-token extraction -> normalizer -> pre-tokenizer -> model -> post-processor   (encode)
//   ids -> tokens -> decoder                                                           (decode)
// Only ids matter here (no offsets), so a piece of text is a plain string plus the one fact from
// its offsets that a stage reads: whether it starts at the beginning of the input (Metaspace
// prepend_scheme "first").
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mvb::text::hf {

using json = nlohmann::json;

// Ids index tables, so every id read from a tokenizer file must be an integer in [0, kMaxTokenId) before it
// is converted: found by fuzzing, a float id (8.9e59, 8.9e31) converted to int is undefined behaviour, and an
// id near 2^31 would size a table at tens of GB. The largest real vocabularies have a few hundred thousand
// entries. `what` names the token or field for the error ("token 'he'", "BertProcessing cls").
constexpr int64_t kMaxTokenId = int64_t{1} << 24;
int32_t token_id(const json& id, std::string_view what);

// A non-negative integer setting (max_input_chars_per_word, ...) or `fallback` when absent.
size_t count_setting(const json& j, const char* key, size_t fallback);

struct Piece {
  std::string text;
  bool at_origin = false;  // starts at byte 0 of the original input
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every piece further (and may transform it); empty pieces are dropped by the caller.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view word, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(int32_t id) const = 0;
  virtual int64_t size() const = 0;
};

// type_id-less: a template is a list of items, each a special token (its ids) or a sequence slot.
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int32_t> process(std::vector<int32_t> ids) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
};

std::unique_ptr<Normalizer> make_normalizer(const json& j);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j);
std::unique_ptr<Model> make_model(const json& j);
std::unique_ptr<PostProcessor> make_post_processor(const json& j);
std::unique_ptr<Decoder> make_decoder(const json& j);

// Split behaviours shared by the Split / Punctuation / Digits / Metaspace pre-tokenizers.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
SplitBehavior parse_behavior(const std::string& s);
// Splits `piece` at the given matches (sorted, non-overlapping byte ranges) the way
// NormalizedString::split does; `invert` swaps which ranges count as matches.
void split_piece(const Piece& piece, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out);
// Matches of every char for which pred(c) holds, one char per match.
template <class Pred>
std::vector<std::pair<size_t, size_t>> char_matches(std::string_view s, Pred pred);

// GPT-2's byte <-> printable-char table used by ByteLevel.
const std::vector<std::string>& byte_to_unicode();
const std::unordered_map<char32_t, uint8_t>& unicode_to_byte();

// A string from a tokenizer.json "pattern" object: {"String": s} or {"Regex": r}; returns the
// regex source (literal strings escaped).
std::string pattern_source(const json& pattern);

[[noreturn]] void unsupported(const std::string& section, const json& j);

}  // namespace mvb::text::hf

#include "unicode.h"

namespace mvb::text::hf {
template <class Pred>
std::vector<std::pair<size_t, size_t>> char_matches(std::string_view s, Pred pred) {
  std::vector<std::pair<size_t, size_t>> m;
  size_t i = 0;
  while (i < s.size()) {
    const size_t b = i;
    const char32_t c = uni::next_cp(s, i);
    if (pred(c)) m.emplace_back(b, i);
  }
  return m;
}
}  // namespace mvb::text::hf
