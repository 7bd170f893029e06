// LocalVlm::generate (models/local_vlm.h): what every local generative model inherits. A toy model
// whose "language model" always predicts the next letter of a tiny word-level vocabulary checks that a
// bad request becomes that request's error only, that requests with different decoding settings
// (agents mix temperatures in one batch) are generated apart but returned in order, that token
// counts, stop strings and the rendered prompt reach the result, and that EOS ends a sequence.
#include "medvlmbench/models/local_vlm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"

namespace mvb {
namespace {

// Words a..h (ids 0..7) and </s> (id 8).
std::unique_ptr<text::Tokenizer> letters_tokenizer() {
  nlohmann::json vocab = nlohmann::json::object();
  const std::vector<std::string> words = {"a", "b", "c", "d", "e", "f", "g", "h"};
  for (size_t i = 0; i < words.size(); ++i) vocab[words[i]] = static_cast<int>(i);
  vocab["</s>"] = 8;
  nlohmann::json spec = {{"version", "1.0"},
                         {"added_tokens",
                          {{{"id", 8},
                            {"content", "</s>"},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", true}}}},
                         {"normalizer", nullptr},
                         {"pre_tokenizer", {{"type", "Whitespace"}}},
                         {"post_processor", nullptr},
                         {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", false}}},
                         {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "a"}}}};
  return text::load_hf_tokenizer_from_string(spec.dump());
}

// Next token = last token + 1; after "h" (7) comes </s> (8).
class NextLetterBackend : public nn::GenerationBackend {
 public:
  at::Tensor embed_tokens(const at::Tensor& ids) override { return ids.to(at::kFloat).unsqueeze(-1); }
  at::Tensor forward_last(const nn::DecoderInputs& in, nn::KVCache& cache) override {
    const int64_t L = in.inputs_embeds.size(1);
    cache.commit(L);
    at::Tensor last = in.inputs_embeds.select(1, L - 1).squeeze(-1).to(at::kLong);
    at::Tensor next = (last + 1).clamp_max(8);
    ++forward_calls;
    return at::one_hot(next, 9).to(at::kFloat) * 10;
  }
  nn::KVCache make_cache(int64_t batch, int64_t capacity) override {
    return nn::KVCache({1, batch, 1, 1, capacity}, at::kFloat, c10::Device(c10::kCPU));
  }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  at::ScalarType dtype() const override { return at::kFloat; }
  int forward_calls = 0;
};

class LettersVlm : public LocalVlm {
 public:
  LettersVlm() : LocalVlm(LocalVlmOptions{}), tok_(letters_tokenizer()) {}
  std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) override {
    ++prepare_calls;
    std::vector<Prepared> out;
    for (const auto* r : requests) {
      MVB_CHECK(r->prompt != "bad", "unreadable image for request '", r->prompt, "'");
      Prepared p;
      p.prompt_text = "USER: " + r->prompt;
      std::vector<int32_t> ids = tok_->encode(r->prompt, false);
      p.input.push_back(nn::InputChunk::text(std::vector<int64_t>(ids.begin(), ids.end())));
      out.push_back(std::move(p));
    }
    return out;
  }
  nn::GenerationBackend& backend() override { return backend_; }
  const text::Tokenizer& tokenizer() const override { return *tok_; }
  nn::GenerationConfig generation_config(const GenerationRequest& r) const override {
    nn::GenerationConfig c;
    c.eos_token_ids = {8};
    c.max_new_tokens = r.max_new_tokens.value_or(10);
    if (r.temperature && *r.temperature > 0) c.do_sample = true, c.temperature = *r.temperature, c.top_k = 1;
    if (r.prompt == "c") c.stop_strings = {"e"};
    return c;
  }
  std::string family() const override { return "generative"; }
  NextLetterBackend backend_;
  int prepare_calls = 0;

 private:
  std::unique_ptr<text::Tokenizer> tok_;
};

GenerationRequest request(std::string prompt, std::optional<double> temperature = std::nullopt) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.temperature = temperature;
  return r;
}

TEST(LocalVlm, GeneratesUntilEosWithCountsAndPrompt) {
  LettersVlm m;
  auto out = m.generate({request("e f")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, "");
  EXPECT_EQ(out[0].text, "g h");  // then </s>, skipped as a special token
  EXPECT_EQ(out[0].prompt_tokens, 2);
  EXPECT_EQ(out[0].completion_tokens, 3);  // g h </s>
  EXPECT_EQ(out[0].extra.value("prompt", ""), "USER: e f");
  EXPECT_EQ(out[0].extra.value("finish_reason", ""), "eos");
}

TEST(LocalVlm, BadRequestIsOnlyItsOwnError) {
  LettersVlm m;
  auto out = m.generate({request("a"), request("bad"), request("f")});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].text, "b c d e f g h");
  EXPECT_NE(out[1].error.find("unreadable image for request 'bad'"), std::string::npos) << out[1].error;
  EXPECT_EQ(out[1].text, "");
  EXPECT_EQ(out[2].text, "g h");
  EXPECT_EQ(out[2].error, "");
}

TEST(LocalVlm, MixedDecodingSettingsKeepRequestOrder) {
  LettersVlm m;
  GenerationRequest short_one = request("a");
  short_one.max_new_tokens = 2;
  auto out = m.generate({request("d", 0.7), short_one, request("f")});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].text, "e f g h");  // top_k = 1 sampling is the argmax
  EXPECT_EQ(out[1].text, "b c");
  EXPECT_EQ(out[1].extra.value("finish_reason", ""), "length");
  EXPECT_EQ(out[2].text, "g h");
  // Three settings: sampling, 2 tokens, the default.
  EXPECT_EQ(out[0].extra.value("generation_batch", 0), 1);
  EXPECT_EQ(out[2].extra.value("generation_batch", 0), 1);
}

TEST(LocalVlm, StopStringEndsAndIsCutFromTheAnswer) {
  LettersVlm m;
  auto out = m.generate({request("c")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].extra.value("finish_reason", ""), "stop_string");
  EXPECT_EQ(out[0].text, "d");
}

}  // namespace
}  // namespace mvb

namespace mvb {
namespace {

TEST(LocalVlm, DescribeGenerationRecordsDefaultsAndActiveQuirks) {
  LettersVlm m;
  const nlohmann::json d = m.describe_generation({"quirk_a", "quirk_b"});
  EXPECT_EQ(d["generation"]["max_new_tokens"], 10);  // the model's default, no request override
  EXPECT_EQ(d["generation"]["eos_token_id"], nlohmann::json({8}));
  EXPECT_EQ(d["reference_compat"], nlohmann::json::array());  // the intended behaviour

  struct AllQuirks : LettersVlm {
    AllQuirks() { options_.reference_compat = {"all"}; }
  } all;
  EXPECT_EQ(all.describe_generation({"quirk_a", "quirk_b"})["reference_compat"],
            nlohmann::json({"quirk_a", "quirk_b"}));
}

}  // namespace
}  // namespace mvb
