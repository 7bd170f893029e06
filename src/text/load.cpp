// Tokenizer base behaviour and the loaders: format detection, tokenizer_config.json /
// special_tokens_map.json, and the BERT-vocab / CLIP-BPE pipelines (built as the tokenizer.json
// that transformers' converters would write for them).
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "hf_tokenizer.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/text/tokenizer.h"
#include "unicode.h"

namespace mvb::text {

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  // encode() is const and thread-safe; large batches are split over a few threads (as tokenizers'
  // encode_batch does with rayon), small ones are not worth a thread.
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t n_threads = texts.size() >= 256 ? std::min<size_t>(hw, 8) : 1;
  auto work = [&](size_t t) {
    for (size_t i = t; i < texts.size(); i += n_threads) out[i] = encode(texts[i], add_special_tokens);
  };
  if (n_threads == 1) {
    work(0);
    return out;
  }
  std::vector<std::thread> pool;
  std::exception_ptr error;
  std::mutex mu;
  for (size_t t = 0; t < n_threads; ++t)
    pool.emplace_back([&, t] {
      try {
        work(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  return out;
}

PaddedBatch Tokenizer::encode_padded(const std::vector<std::string>& texts, const PadOptions& o) const {
  PaddedBatch b;
  // Truncation keeps room for the special tokens, which are added after it (as tokenizers does).
  const size_t n_special = o.add_special_tokens ? add_special_tokens({}).size() : 0;
  MVB_USAGE_CHECK(o.max_length < 0 || static_cast<size_t>(o.max_length) >= n_special, "max_length ", o.max_length,
                  " cannot hold the ", n_special, " special tokens this tokenizer adds");
  MVB_USAGE_CHECK(!o.pad_to_max_length || o.max_length > 0, "padding to max_length needs max_length > 0");
  size_t longest = 0;
  for (const auto& t : texts) {
    auto ids = encode(t, /*add_special_tokens=*/false);
    if (o.max_length >= 0 && ids.size() + n_special > static_cast<size_t>(o.max_length))
      ids.resize(static_cast<size_t>(o.max_length) - n_special);
    if (o.add_special_tokens) ids = add_special_tokens(std::move(ids));
    longest = std::max(longest, ids.size());
    b.input_ids.push_back(std::move(ids));
  }
  const size_t target = o.pad_to_max_length ? static_cast<size_t>(o.max_length) : longest;
  const bool left = o.pad_left.value_or(config_.padding_left);
  int32_t pad = -1;
  for (auto& ids : b.input_ids) {
    std::vector<int32_t> mask(ids.size(), 1);
    if (ids.size() < target) {
      if (pad < 0) {
        pad = o.pad_id.value_or(special_.pad.id);
        MVB_USAGE_CHECK(pad >= 0,
                        "this tokenizer has no pad token; pass PadOptions::pad_id (transformers would ask "
                        "for tokenizer.pad_token to be set)");
      }
      const size_t n = target - ids.size();
      ids.insert(left ? ids.begin() : ids.end(), n, pad);
      mask.insert(left ? mask.begin() : mask.end(), n, 0);
    }
    b.attention_mask.push_back(std::move(mask));
  }
  return b;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  return decode(ids, skip_special_tokens, config_.clean_up_tokenization_spaces);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens, bool clean_up_spaces) const {
  std::string s = decode_raw(ids, skip_special_tokens);
  return clean_up_spaces ? clean_up_tokenization(std::move(s)) : s;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens, bool clean_up_spaces,
                              bool spaces_between_special_tokens) const {
  std::string s = decode_raw_spaced(ids, skip_special_tokens, spaces_between_special_tokens);
  return clean_up_spaces ? clean_up_tokenization(std::move(s)) : s;
}

void Tokenizer::add_additional_special_tokens(const std::vector<std::string>&) {
  MVB_CHECK(false, "adding special tokens is implemented for the slow SentencePiece tokenizer only (this one is ",
            kind_, ")");
}

void Tokenizer::set_metadata(std::string kind, TokenizerConfig config, SpecialTokens special) {
  kind_ = std::move(kind);
  config_ = std::move(config);
  special_ = std::move(special);
}

namespace hf {
std::string cleanup_tokenization_spaces(std::string s);
}
std::string clean_up_tokenization(std::string text) { return hf::cleanup_tokenization_spaces(std::move(text)); }

namespace hf {
namespace {

// A special-token entry: "text", {"content": "text", ...}, or null.
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

json read_json_if_exists(const std::string& folder, const std::string& name) {
  if (folder.empty()) return json::object();
  const std::string p = io::join_path(folder, name);
  if (!io::exists(p)) return json::object();
  json j = io::read_json(p);
  return j.is_object() ? j : json::object();
}

}  // namespace

json apply_folder_config(Tokenizer& tok, const std::string& folder, const std::string& kind, SpecialTokens st) {
  const json cfg = read_json_if_exists(folder, "tokenizer_config.json");
  const json map = read_json_if_exists(folder, "special_tokens_map.json");
  TokenizerConfig c;
  if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
    c.add_bos_token = cfg["add_bos_token"].get<bool>();
  if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
    c.add_eos_token = cfg["add_eos_token"].get<bool>();
  if (cfg.contains("model_max_length") && cfg["model_max_length"].is_number()) {
    const double v = cfg["model_max_length"].get<double>();
    if (v < 1e18) c.model_max_length = static_cast<int64_t>(v);
  }
  if (cfg.contains("clean_up_tokenization_spaces") && cfg["clean_up_tokenization_spaces"].is_boolean())
    c.clean_up_tokenization_spaces = cfg["clean_up_tokenization_spaces"].get<bool>();
  if (cfg.contains("tokenizer_class") && cfg["tokenizer_class"].is_string())
    c.tokenizer_class = cfg["tokenizer_class"].get<std::string>();
  if (cfg.contains("padding_side") && cfg["padding_side"].is_string()) {
    c.padding_left = cfg["padding_side"] == "left";
  } else {
    // The class default (transformers 4.x): LlamaTokenizerFast, GemmaTokenizerFast, CodeLlamaTokenizerFast,
    // CohereTokenizerFast and XLNetTokenizer(Fast) pad on the left; the slow Llama/Gemma classes and the
    // rest on the right.
    std::string cls = c.tokenizer_class;
    if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
    const bool fast = kind != "sentencepiece";
    c.padding_left = cls == "XLNetTokenizer" || (fast && (cls == "LlamaTokenizer" || cls == "GemmaTokenizer" ||
                                                          cls == "CodeLlamaTokenizer" || cls == "CohereTokenizer"));
  }
  if (cfg.contains("chat_template")) {
    const auto& t = cfg["chat_template"];
    if (t.is_string()) {
      c.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const auto& e : t)
        if (e.value("name", std::string()) == "default") c.chat_template = e.value("template", std::string());
    }
  }
  for (const char* f : {"chat_template.jinja", "chat_template.json"}) {
    if (!folder.empty() && io::exists(io::join_path(folder, f)) && c.chat_template.empty()) {
      c.chat_template = io::read_file(io::join_path(folder, f));
    }
  }
  c.has_chat_template = !c.chat_template.empty();

  auto resolve = [&](const char* key, SpecialToken& dst) {
    std::optional<std::string> text;
    if (map.contains(key)) text = token_text(map[key]);
    if (cfg.contains(key)) {  // tokenizer_config.json wins, as in transformers
      if (cfg[key].is_null()) {
        text.reset();
        dst = SpecialToken{};
      } else if (auto t = token_text(cfg[key])) {
        text = t;
      }
    }
    if (text) dst.content = *text;
    if (!dst.content.empty()) {
      auto id = tok.token_to_id(dst.content);
      dst.id = id ? *id : -1;
    }
  };
  resolve("bos_token", st.bos);
  resolve("eos_token", st.eos);
  resolve("pad_token", st.pad);
  resolve("unk_token", st.unk);
  resolve("cls_token", st.cls);
  resolve("sep_token", st.sep);
  resolve("mask_token", st.mask);
  const json& extra = cfg.contains("additional_special_tokens") ? cfg["additional_special_tokens"]
                                                                : map.value("additional_special_tokens", json());
  if (extra.is_array()) {
    st.additional.clear();
    for (const auto& e : extra)
      if (auto t = token_text(e)) {
        auto id = tok.token_to_id(*t);
        st.additional.push_back({*t, id ? *id : -1});
      }
  }
  tok.set_metadata(kind, c, st);
  return cfg;
}

namespace {

// CLIPTokenizerFast wraps the backend decode: "</w>" becomes a space, then the text is stripped.
class ClipTokenizer : public HfTokenizer {
 public:
  using HfTokenizer::HfTokenizer;
  std::string decode_raw(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    std::string s = HfTokenizer::decode_raw(ids, skip_special_tokens);
    std::string out = replace_all(std::move(s), "</w>", " ");
    // Python str.strip(): str.isspace() characters at both ends.
    auto space = [](char32_t c) { return uni::is_whitespace(c) || (c >= 0x1C && c <= 0x1F); };
    size_t b = 0, e = out.size();
    while (b < e) {
      size_t k = b;
      if (!space(uni::next_cp(out, k))) break;
      b = k;
    }
    while (e > b) {
      size_t k = e - 1;
      while (k > b && (static_cast<unsigned char>(out[k]) & 0xC0) == 0x80) --k;
      size_t t = k;
      if (!space(uni::next_cp(out, t))) break;
      e = k;
    }
    return out.substr(b, e - b);
  }
};

bool is_class(const std::string& cls, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (cls == n || cls == std::string(n) + "Fast") return true;
  return false;
}

std::unique_ptr<Tokenizer> finish_hf_unchecked(const json& tj, const std::string& folder, const std::string& kind,
                                               bool clip_decode);

// Builds the tokenizer; a JSON value of the wrong type or a missing key (nlohmann's type_error /
// out_of_range from .at() and get<>()) becomes the usual one-line mvb::Error instead of escaping as a
// library exception (found by fuzz/tokenizer_fuzz.cpp).
std::unique_ptr<Tokenizer> finish_hf(const json& tj, const std::string& folder, const std::string& kind,
                                     bool clip_decode) {
  try {
    return finish_hf_unchecked(tj, folder, kind, clip_decode);
  } catch (const nlohmann::json::exception& e) {
    throw Error(kind + (folder.empty() ? "" : " in '" + folder + "'") + ": malformed or unsupported content (" +
                e.what() + "); compare it with the file the model's " + "Hugging Face repository ships");
  }
}

std::unique_ptr<Tokenizer> finish_hf_unchecked(const json& tj, const std::string& folder, const std::string& kind,
                                               bool clip_decode) {
  std::unique_ptr<HfTokenizer> tok =
      clip_decode ? std::make_unique<ClipTokenizer>(tj) : std::make_unique<HfTokenizer>(tj);
  const json cfg = apply_folder_config(*tok, folder, kind);
  // BertTokenizer(Fast)'s __init__ defaults clean_up_tokenization_spaces to True.
  if (is_class(tok->config().tokenizer_class, {"BertTokenizer"}) && !cfg.contains("clean_up_tokenization_spaces")) {
    TokenizerConfig bert = tok->config();
    bert.clean_up_tokenization_spaces = true;
    tok->set_metadata(kind, bert, tok->special_tokens());
  }
  const auto& c = tok->config();
  // LlamaTokenizerFast / GemmaTokenizerFast rebuild their template from add_bos_token/add_eos_token.
  if (is_class(c.tokenizer_class, {"LlamaTokenizer", "GemmaTokenizer", "CodeLlamaTokenizer"}) &&
      (c.add_bos_token || c.add_eos_token)) {
    const auto& st = tok->special_tokens();
    const bool bos = c.add_bos_token.value_or(true), eos = c.add_eos_token.value_or(false);
    MVB_CHECK(!bos || st.bos.present(), folder, ": add_bos_token is set but the bos_token is unknown");
    MVB_CHECK(!eos || st.eos.present(), folder, ": add_eos_token is set but the eos_token is unknown");
    tok->set_bos_eos_template(bos ? std::optional<int32_t>(st.bos.id) : std::nullopt,
                              eos ? std::optional<int32_t>(st.eos.id) : std::nullopt);
  }
  return tok;
}

json special_added(const std::string& content, int32_t id) {
  return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
              {"rstrip", false}, {"normalized", false}, {"special", true}};
}

}  // namespace
}  // namespace hf

std::unique_ptr<Tokenizer> load_hf_tokenizer_from_string(const std::string& json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const std::exception& e) {
    throw Error(std::string("tokenizer.json text is not valid JSON: ") + e.what());
  }
  return hf::finish_hf(j, "", "tokenizer.json", /*clip_decode=*/false);
}

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path, const std::string& folder) {
  const nlohmann::json j = io::read_json(path);
  // CLIPTokenizerFast's decode wrapper applies whatever file it was loaded from.
  const nlohmann::json cfg =
      folder.empty() ? nlohmann::json::object() : hf::read_json_if_exists(folder, "tokenizer_config.json");
  const bool clip = cfg.value("tokenizer_class", std::string()).rfind("CLIPTokenizer", 0) == 0;
  try {
    return hf::finish_hf(j, folder, "tokenizer.json", clip);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

static std::unique_ptr<Tokenizer> load_wordpiece_vocab_unchecked(const std::string& vocab_txt, bool lowercase,
                                                                 const std::string& folder) {
  const std::string text = io::read_file(vocab_txt);
  nlohmann::json vocab = nlohmann::json::object();
  std::istringstream in(text);
  std::string line;
  int32_t id = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab[line] = id++;
  }
  MVB_CHECK(id > 0, vocab_txt, ": empty vocabulary");
  const nlohmann::json cfg = hf::read_json_if_exists(folder, "tokenizer_config.json");
  if (cfg.contains("do_lower_case") && cfg["do_lower_case"].is_boolean()) lowercase = cfg["do_lower_case"].get<bool>();
  nlohmann::json strip = nullptr;
  if (cfg.contains("strip_accents") && cfg["strip_accents"].is_boolean()) strip = cfg["strip_accents"];
  const bool chinese = cfg.value("tokenize_chinese_chars", true);
  auto tok_of = [&](const char* key, const char* dflt) {
    return cfg.contains(key) && cfg[key].is_string() ? cfg[key].get<std::string>() : std::string(dflt);
  };
  const std::string unk = tok_of("unk_token", "[UNK]"), cls = tok_of("cls_token", "[CLS]"),
                    sep = tok_of("sep_token", "[SEP]"), pad = tok_of("pad_token", "[PAD]"),
                    mask = tok_of("mask_token", "[MASK]");
  MVB_CHECK(vocab.contains(cls) && vocab.contains(sep) && vocab.contains(unk), vocab_txt, ": a BERT vocabulary needs ",
            cls, ", ", sep, " and ", unk);
  nlohmann::json added = nlohmann::json::array();
  for (const auto& t : {pad, unk, cls, sep, mask})
    if (vocab.contains(t)) added.push_back(hf::special_added(t, hf::token_id(vocab[t], t)));
  std::sort(added.begin(), added.end(), [](const auto& a, const auto& b) { return a["id"] < b["id"]; });
  const nlohmann::json tj = {
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", chinese},
        {"strip_accents", strip},
        {"lowercase", lowercase}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor", {{"type", "BertProcessing"}, {"sep", {sep, vocab[sep]}}, {"cls", {cls, vocab[cls]}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", unk},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}}};
  SpecialTokens st;
  auto mk = [&](const std::string& t) {
    return vocab.contains(t) ? SpecialToken{t, hf::token_id(vocab[t], t)} : SpecialToken{};
  };
  st.unk = mk(unk);
  st.cls = mk(cls);
  st.sep = mk(sep);
  st.pad = mk(pad);
  st.mask = mk(mask);
  auto tok = std::make_unique<hf::HfTokenizer>(tj);
  hf::apply_folder_config(*tok, folder, "wordpiece-vocab", st);
  // BertTokenizer's default when the config does not say.
  if (!cfg.contains("clean_up_tokenization_spaces")) {
    TokenizerConfig c = tok->config();
    c.clean_up_tokenization_spaces = true;
    tok->set_metadata("wordpiece-vocab", c, tok->special_tokens());
  }
  return tok;
}

// A JSON value of the wrong type (nlohmann's type_error / out_of_range) becomes a one-line mvb::Error
// (found by fuzz/tokenizer_fuzz.cpp).
std::unique_ptr<Tokenizer> load_wordpiece_vocab(const std::string& vocab_txt, bool lowercase,
                                                const std::string& folder) {
  try {
    return load_wordpiece_vocab_unchecked(vocab_txt, lowercase, folder);
  } catch (const nlohmann::json::exception& e) {
    throw Error(vocab_txt + ": malformed or unsupported tokenizer files (" + e.what() + ")");
  }
}

static std::unique_ptr<Tokenizer> load_clip_bpe_unchecked(const std::string& vocab_json, const std::string& merges_txt,
                                                          const std::string& folder) {
  const nlohmann::json vocab = io::read_json(vocab_json);
  MVB_CHECK(vocab.is_object(), vocab_json, ": expected a JSON object token -> id");
  std::istringstream in(io::read_file(merges_txt));
  nlohmann::json merges = nlohmann::json::array();
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first && line.rfind("#version", 0) == 0) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    merges.push_back(line);
  }
  const std::string bos = "<|startoftext|>", eos = "<|endoftext|>";
  MVB_CHECK(vocab.contains(bos) && vocab.contains(eos), vocab_json, ": a CLIP vocabulary needs ", bos, " and ", eos,
            " (GPT-2 style vocab.json + merges.txt are read only through the checkpoint's tokenizer.json)");
  const int32_t bos_id = hf::token_id(vocab[bos], bos), eos_id = hf::token_id(vocab[eos], eos);
  const nlohmann::json tj = {
      {"added_tokens", {hf::special_added(bos, bos_id), hf::special_added(eos, eos_id)}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "NFC"}},
          {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
          {{"type", "Lowercase"}}}}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)"}}},
           {"behavior", "Removed"},
           {"invert", true}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"post_processor", {{"type", "RobertaProcessing"}, {"sep", {eos, eos_id}}, {"cls", {bos, bos_id}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", eos},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", "</w>"},
        {"fuse_unk", false},
        {"vocab", vocab},
        {"merges", merges}}}};
  SpecialTokens st;
  st.bos = {bos, bos_id};
  st.eos = {eos, eos_id};
  st.unk = st.eos;
  st.pad = st.eos;
  auto tok = std::make_unique<hf::ClipTokenizer>(tj);
  hf::apply_folder_config(*tok, folder, "clip-bpe", st);
  return tok;
}

// A JSON value of the wrong type (nlohmann's type_error / out_of_range) becomes a one-line mvb::Error
// (found by fuzz/tokenizer_fuzz.cpp).
std::unique_ptr<Tokenizer> load_clip_bpe(const std::string& vocab_json, const std::string& merges_txt,
                                         const std::string& folder) {
  try {
    return load_clip_bpe_unchecked(vocab_json, merges_txt, folder);
  } catch (const nlohmann::json::exception& e) {
    throw Error(vocab_json + ": malformed or unsupported tokenizer files (" + e.what() + ")");
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    // A corrupt id found while building the tokenizer names the file it came from.
    if (std::string(e.what()).find(vocab_json) != std::string::npos) throw;
    throw Error(vocab_json + ": " + e.what());
  }
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& folder, Preference preference) {
  MVB_CHECK(io::is_directory(folder), "tokenizer folder '", folder,
            "' does not exist; pass the checkpoint folder (--model_path) that holds tokenizer.json or tokenizer.model");
  auto has = [&](const char* f) { return io::exists(io::join_path(folder, f)); };
  if (preference == Preference::kSlow && has("tokenizer.model"))
    return load_sentencepiece_tokenizer(io::join_path(folder, "tokenizer.model"), folder);
  if (has("tokenizer.json")) return load_hf_tokenizer_json(io::join_path(folder, "tokenizer.json"), folder);
  if (has("tokenizer.model")) return load_sentencepiece_tokenizer(io::join_path(folder, "tokenizer.model"), folder);
  if (has("spiece.model")) return load_sentencepiece_tokenizer(io::join_path(folder, "spiece.model"), folder);
  if (has("vocab.txt")) return load_wordpiece_vocab(io::join_path(folder, "vocab.txt"), /*lowercase=*/true, folder);
  if (has("vocab.json") && has("merges.txt"))
    return load_clip_bpe(io::join_path(folder, "vocab.json"), io::join_path(folder, "merges.txt"), folder);
  throw Error("no tokenizer in '" + folder +
              "': expected tokenizer.json, tokenizer.model, spiece.model, vocab.txt, or vocab.json + merges.txt (copy "
              "them from the "
              "model's Hugging Face repository)");
}

}  // namespace mvb::text
