// Fuzz target: the tokenizer loaders (text/tokenizer.h) and the pipelines they build. The first byte
// picks the format, the rest is the file:
//   0: tokenizer.json (load_hf_tokenizer_from_string: normalizers, pre-tokenizers incl. regex Split,
//      BPE / WordPiece / Unigram / WordLevel models, post-processors, decoders, added tokens)
//   1: BERT vocab.txt (load_wordpiece_vocab)
//   2: CLIP vocab.json + merges.txt, split at the first "\n#merges\n" (load_clip_bpe)
//   3: tokenizer_config.json beside a fixed small tokenizer.json (load_tokenizer on a folder)
// Every tokenizer that loads then encodes a fixed multilingual text, with and without special tokens,
// and decodes the ids back (and every id from -1 to vocab_size, to reach id_to_token's bounds).
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/text/tokenizer.h"

namespace {
const char* const kTexts[] = {
    "Hello world! Is there a 3.5 cm lesion in the left lung?",
    "  Ünïcödé\tcafé — 肺部 CT  <s> [CLS] <|im_start|> \xF0\x9F\x98\x80 ",
    "",
};

// A valid tokenizer.json for mode 3 (WordLevel over whitespace), so the fuzzed config is what varies.
const char* const kSmallTokenizerJson = R"({"version":"1.0","added_tokens":[{"id":0,"content":"<unk>",
"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],"normalizer":null,
"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel",
"vocab":{"<unk>":0,"hello":1,"world":2},"unk_token":"<unk>"}})";

void exercise(const mvb::text::Tokenizer& tok) {
  for (const char* text : kTexts) {
    for (bool special : {true, false}) {
      const std::vector<int32_t> ids = tok.encode(text, special);
      (void)tok.decode(ids, false);
      (void)tok.decode(ids, true);
    }
  }
  (void)tok.encode_padded({kTexts[0], kTexts[1]}, mvb::text::PadOptions{8, false, 0, std::nullopt, true});
  const int64_t n = std::min<int64_t>(tok.vocab_size(), 4096);
  std::vector<int32_t> all;
  for (int64_t id = -1; id <= n; ++id) {
    (void)tok.id_to_token(static_cast<int32_t>(id));
    (void)tok.is_special_id(static_cast<int32_t>(id));
    if (id >= 0 && id < n) all.push_back(static_cast<int32_t>(id));
  }
  (void)tok.decode(all, false);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 4;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    std::unique_ptr<mvb::text::Tokenizer> tok;
    switch (mode) {
      case 0:
        tok = mvb::text::load_hf_tokenizer_from_string(body);
        break;
      case 1: {
        const std::string p = mvb::fuzz::write_scratch("vocab.txt", data + 1, size - 1);
        tok = mvb::text::load_wordpiece_vocab(p, (data[0] & 4) != 0);
        break;
      }
      case 2: {
        const size_t cut = body.find("\n#merges\n");
        const std::string vocab = body.substr(0, cut);
        const std::string merges = cut == std::string::npos ? std::string() : body.substr(cut + 9);
        const std::string vp =
            mvb::fuzz::write_scratch("vocab.json", reinterpret_cast<const uint8_t*>(vocab.data()), vocab.size());
        const std::string mp =
            mvb::fuzz::write_scratch("merges.txt", reinterpret_cast<const uint8_t*>(merges.data()), merges.size());
        tok = mvb::text::load_clip_bpe(vp, mp);
        break;
      }
      default: {
        const std::string dir = mvb::fuzz::scratch_path("tokfolder");
        const std::string tj(kSmallTokenizerJson);
        static const bool made = [&] {
          std::filesystem::create_directories(dir);
          mvb::fuzz::write_scratch("tokfolder/tokenizer.json", reinterpret_cast<const uint8_t*>(tj.data()), tj.size());
          return true;
        }();
        (void)made;
        mvb::fuzz::write_scratch("tokfolder/tokenizer_config.json", data + 1, size - 1);
        tok = mvb::text::load_tokenizer(dir);
        break;
      }
    }
    exercise(*tok);
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
