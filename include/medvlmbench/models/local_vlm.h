// The base of every local generative model (LLaVA, Qwen2-VL, ... one folder each under src/models/).
//
// An architecture supplies three things: its processor (request -> chunks: chat template, image
// preprocessing, image-token expansion, vision tower and projector), the language model the engine
// drives (nn::GenerationBackend) and its tokenizer. LocalVlm::generate() then does the same for all:
// prepare each request (a failure is that request's error, never the batch's), run nn::generate()
// over the batch, decode the new tokens (skip_special_tokens, strip) and fill token counts and timings.
//
//   class LlavaModel : public LocalVlm { ... };
//   MVB_REGISTER(model_registry(), "LLaVA-1.5", ModelEntry{"generative", {"vqa", "caption"}, ...});
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb {

// Shared options every local VLM reads from ModelSpec::options (set by CLI flags).
struct LocalVlmOptions {
  int max_new_tokens = -1;     // --max_new_tokens; -1 = the model's reference default
  int batch_size = 1;          // preferred generation batch
  // --reference_compat: the reference's input quirks to reproduce (GENERATIVE.md section 3), e.g.
  // "llava_double_preprocess"; "all" = every quirk the model knows. Empty = the intended behaviour.
  std::vector<std::string> reference_compat;
  static LocalVlmOptions from_spec(const ModelSpec& spec);
};

class LocalVlm : public GenerativeModel {
 public:
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& batch) override;
  int preferred_batch_size() const override { return options_.batch_size; }

 protected:
  explicit LocalVlm(LocalVlmOptions options) : options_(std::move(options)) {}

  // The processor: one request -> the chunks of its prompt (the rendered prompt text goes to
  // `prompt_text` for the predictions row). Throws mvb::Error for a bad request (unreadable image ...).
  struct Prepared {
    nn::MultimodalInput input;
    std::string prompt_text;
  };
  virtual std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests) = 0;
  virtual nn::GenerationBackend& backend() = 0;
  virtual const text::Tokenizer& tokenizer() const = 0;
  // The decoding settings for one request: the reference's defaults for this model (its
  // generation_config.json and max_new_tokens), overridden by the request's temperature / max tokens.
  virtual nn::GenerationConfig generation_config(const GenerationRequest& request) const = 0;
  // Text of the new tokens as the reference decodes them (default: skip special tokens, strip).
  virtual std::string decode_answer(const std::vector<int64_t>& ids) const;

  LocalVlmOptions options_;
};

}  // namespace mvb
