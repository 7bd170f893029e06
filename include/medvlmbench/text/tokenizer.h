// Tokenizers, loaded from what a Hugging Face checkpoint folder ships and behaving like the
// Hugging Face tokenizer the reference would load for that folder (ids and decoded text identical).
//
//   auto tok = mvb::text::load_tokenizer("models/llava-v1.5-7b");   // auto-detects the format
//   std::vector<int32_t> ids = tok->encode(prompt);                  // with BOS etc. as configured
//   std::string text = tok->decode(ids, /*skip_special_tokens=*/true);
//
// Formats, in the order load_tokenizer() looks for them (the order AutoTokenizer prefers):
//   tokenizer.json           Hugging Face `tokenizers` pipeline (BPE / WordPiece / Unigram / WordLevel)
//   tokenizer.model          SentencePiece, through a dlopen'ed module (libtorch and libsentencepiece
//                            cannot share a symbol scope); the behaviour of HF's slow LlamaTokenizer
//   spiece.model             SentencePiece as T5Tokenizer / SiglipTokenizer use it (EOS, no BOS;
//                            SigLIP's punctuation-removing canonicalize_text)
//   vocab.txt                BERT WordPiece (BertTokenizerFast's pipeline)
//   vocab.json + merges.txt  CLIP BPE (CLIPTokenizerFast's pipeline)
// tokenizer_config.json and special_tokens_map.json add what HF reads from them: add_bos_token /
// add_eos_token, the special tokens, model_max_length, clean_up_tokenization_spaces, chat_template.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvb::text {

// A special token: its text and id (-1 when the tokenizer has none).
struct SpecialToken {
  std::string content;
  int32_t id = -1;
  bool present() const { return id >= 0; }
};

struct SpecialTokens {
  SpecialToken bos, eos, pad, unk, cls, sep, mask;
  std::vector<SpecialToken> additional;  // additional_special_tokens
};

// What tokenizer_config.json says (defaults = transformers' when the key is absent).
struct TokenizerConfig {
  bool padding_left = false;  // padding_side == "left" (absent: the transformers class default)
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  int64_t model_max_length = int64_t(1) << 62;  // "very large" as in transformers
  bool clean_up_tokenization_spaces = false;
  bool has_chat_template = false;
  std::string chat_template;  // raw Jinja text (each model's processor renders its own template)
  std::string tokenizer_class;
};

// transformers' tokenizer(texts, truncation=True, max_length=N, padding="longest"|"max_length").
struct PadOptions {
  int max_length = -1;             // truncate (text part, from the right) so that ids incl. special tokens fit; -1 = no
  bool pad_to_max_length = false;  // pad every row to max_length; else to the longest row
  std::optional<int32_t> pad_id;   // default: the pad token (an error when the tokenizer has none)
  std::optional<bool> pad_left;    // default: config().padding_left
  bool add_special_tokens = true;
};

struct PaddedBatch {
  std::vector<std::vector<int32_t>> input_ids;
  std::vector<std::vector<int32_t>> attention_mask;  // 1 for real tokens, 0 for padding
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids. add_special_tokens adds what the model's post-processor / add_bos/eos adds.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const = 0;
  // Encodes each text (on several threads for large batches), results in input order.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = true) const;
  // Puts the special tokens around already-encoded ids (what add_special_tokens=true adds).
  virtual std::vector<int32_t> add_special_tokens(std::vector<int32_t> ids) const = 0;
  // Batch with truncation and padding, as transformers' __call__ does it.
  PaddedBatch encode_padded(const std::vector<std::string>& texts, const PadOptions& options) const;
  // Ids -> text, without transformers' clean-up of tokenization spaces (the raw backend decode).
  virtual std::string decode_raw(const std::vector<int32_t>& ids, bool skip_special_tokens) const = 0;
  // transformers' tokenizer.decode(): decode_raw then clean_up_tokenization when configured.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens, bool clean_up_spaces) const;
  // decode(ids, skip_special_tokens, clean_up_spaces, spaces_between_special_tokens): the slow (Python)
  // tokenizers' PreTrainedTokenizer._decode joins the text around added tokens that are not special with " "
  // unless spaces_between_special_tokens=False; the other tokenizers ignore the flag, as transformers does.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens, bool clean_up_spaces,
                     bool spaces_between_special_tokens) const;
  virtual std::string decode_raw_spaced(const std::vector<int32_t>& ids, bool skip_special_tokens,
                                        bool spaces_between_special_tokens) const {
    (void)spaces_between_special_tokens;
    return decode_raw(ids, skip_special_tokens);
  }

  // tokenizer.add_special_tokens({"additional_special_tokens": tokens}) (transformers 4.x, which replaces the
  // list): tokens not yet in the vocabulary get the next ids. Implemented by the slow SentencePiece tokenizer
  // (what xGen-MM's update_special_tokens does); the others throw mvb::Error.
  virtual void add_additional_special_tokens(const std::vector<std::string>& tokens);

  // len(tokenizer): the model vocabulary plus added tokens.
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // "" for an id outside the vocabulary.
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual bool is_special_id(int32_t id) const = 0;

  const SpecialTokens& special_tokens() const { return special_; }
  const TokenizerConfig& config() const { return config_; }
  // What it was loaded from ("tokenizer.json", "sentencepiece", "wordpiece-vocab", "clip-bpe", ...).
  const std::string& kind() const { return kind_; }

  // Used by the loaders.
  void set_metadata(std::string kind, TokenizerConfig config, SpecialTokens special);

 protected:
  SpecialTokens special_;
  TokenizerConfig config_;
  std::string kind_;
};

// Which implementation load_tokenizer() picks when a folder ships both tokenizer.json and
// tokenizer.model: kFast follows AutoTokenizer's default (use_fast=True); kSlow follows
// `use_fast=False` (what LLaVA's builder asks for), i.e. SentencePiece when tokenizer.model exists.
enum class Preference { kFast, kSlow };

// Auto-detects the format in a checkpoint folder (see the list above). Throws mvb::Error naming the
// folder and the files it looked for when none is usable.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& folder, Preference preference = Preference::kFast);

// Loaders for one format each (`folder` supplies tokenizer_config.json / special_tokens_map.json
// when present; it may be "").
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& tokenizer_json_path,
                                                  const std::string& folder = "");
std::unique_ptr<Tokenizer> load_hf_tokenizer_from_string(const std::string& json_text);
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path, const std::string& folder = "");
// BERT vocab.txt; lowercase/strip_accents as BertTokenizer's do_lower_case (strip_accents follows it).
std::unique_ptr<Tokenizer> load_wordpiece_vocab(const std::string& vocab_txt, bool lowercase = true,
                                                const std::string& folder = "");
// CLIP BPE from vocab.json + merges.txt (CLIPTokenizerFast's pipeline).
std::unique_ptr<Tokenizer> load_clip_bpe(const std::string& vocab_json, const std::string& merges_txt,
                                         const std::string& folder = "");

// Trains a SentencePiece model through the module (spm_train-style arguments, e.g.
// "--input=corpus.txt --model_prefix=/tmp/m --vocab_size=500"); throws mvb::Error on failure.
void train_sentencepiece(const std::string& args);
// Where the SentencePiece module was loaded from; loads it first (throws when it is missing).
std::string sentencepiece_module_path();

// transformers' clean_up_tokenization(): " ." -> "." etc.
std::string clean_up_tokenization(std::string text);

}  // namespace mvb::text
