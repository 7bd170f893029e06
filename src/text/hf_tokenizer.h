// The Tokenizer that runs a Hugging Face `tokenizers` pipeline (tokenizer.json).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "hf_pipeline.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb::text::hf {

// Added tokens (tokenizer.json "added_tokens"): found in the text before the model sees it.
class AddedVocabulary {
 public:
  struct Token {
    int32_t id;
    std::string content;
    bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
  };
  void build(std::vector<Token> tokens, const Normalizer* normalizer);
  // Splits `text` at the added tokens of one kind (raw text: normalized == false; normalized text:
  // normalized == true). Result pieces carry id >= 0 for a matched added token.
  struct Split {
    size_t b, e;
    int32_t id;
  };
  std::vector<Split> split(std::string_view text, bool normalized_kind) const;

  const Token* by_id(int32_t id) const;
  std::optional<int32_t> id_of(std::string_view content) const;
  const std::vector<Token>& tokens() const { return tokens_; }

 private:
  struct Trie {
    std::unordered_map<uint64_t, int32_t> edges;  // (node << 8 | byte) -> child
    std::vector<int32_t> token_at;                // node -> index into tokens_, or -1
    int32_t add_node();
    void insert(std::string_view key, int32_t token_index);
  };
  std::vector<Token> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, int32_t> by_content_;
  Trie raw_, normalized_;
};

class HfTokenizer : public Tokenizer {
 public:
  explicit HfTokenizer(const json& tokenizer_json);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const override;
  std::string decode_raw(const std::vector<int32_t>& ids, bool skip_special_tokens) const override;
  std::vector<int32_t> add_special_tokens(std::vector<int32_t> ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  bool is_special_id(int32_t id) const override;

  // transformers' LlamaTokenizerFast/GemmaTokenizerFast rebuild the template from add_bos/add_eos.
  void set_bos_eos_template(std::optional<int32_t> bos, std::optional<int32_t> eos);

 private:
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocabulary added_;
  int64_t vocab_size_ = 0;
};

// Reads tokenizer_config.json and special_tokens_map.json from `folder` (either may be absent) and
// resolves special tokens against `tok`. Fills tok's metadata; returns the raw tokenizer_config.
nlohmann::json apply_folder_config(Tokenizer& tok, const std::string& folder, const std::string& kind,
                                   SpecialTokens defaults = {});

}  // namespace mvb::text::hf
