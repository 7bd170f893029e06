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

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/models/local_vlm_options.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/generation.h"
#include "medvlmbench/text/tokenizer.h"

namespace mvb {

// The forward pass transformers' VLMs run (the parity path beside the engine): `embeds` [L, hidden] holds the
// embedding of every prompt id, placeholders included, in chunk order; each image chunk's features are
// written over its placeholder positions. Returns each position's bidirectional group ([L] int64, 0 for
// text; Gemma3's images attend both ways). Throws when the chunks do not cover exactly L positions.
at::Tensor scatter_image_chunks(at::Tensor embeds, const nn::MultimodalInput& chunks);

class LocalVlm : public GenerativeModel {
 public:
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& batch) override;
  int preferred_batch_size() const override { return options_.batch_size; }
  // For describe() (run.json): {"generation": the decoding settings a request without overrides
  // runs with (generation_config.json, the reference's max_new_tokens, --max_new_tokens),
  // "reference_compat": the quirks of `known_quirks` that run}. Architectures add it to their
  // description: d.update(describe_generation({"llava_double_preprocess"})).
  nlohmann::json describe_generation(const std::vector<std::string>& known_quirks = {}) const;
  // The generated ids (new tokens only) of `requests` run as one left-padded batch through the engine
  // generate() uses, with the first request's decoding settings: the parity tests' path (no grouping, no
  // decoding, a bad request throws).
  std::vector<std::vector<int64_t>> generate_ids(const std::vector<GenerationRequest>& requests);

 protected:
  explicit LocalVlm(LocalVlmOptions options);

  // The processor: one request -> the chunks of its prompt (the rendered prompt text goes to
  // `prompt_text` for the predictions row). Throws mvb::Error for a bad request (unreadable image ...).
  struct Prepared {
    nn::MultimodalInput input;
    std::string prompt_text;
    // Ids the answer text is decoded with, before the new ones: the reference's output string holds
    // the prompt for some models (BLIP-2's generate returns the prompt ids; --reference_compat
    // blip2_prompt_echo). Empty = the new tokens alone. The answer without them goes to extra["answer_only"].
    // (Initialized here: Prepared{input, prompt} leaves it out without -Wmissing-field-initializers.)
    std::vector<int64_t> echo_ids = {};
  };
  // The processor over a batch. The default runs prepare_one() request by request; architectures whose
  // vision tower takes the batch's images together override this instead.
  virtual std::vector<Prepared> prepare(const std::vector<const GenerationRequest*>& requests);
  // One request's chunks, for the default prepare(). An architecture overrides one of the two.
  virtual Prepared prepare_one(const GenerationRequest& request);
  virtual nn::GenerationBackend& backend() = 0;
  virtual const text::Tokenizer& tokenizer() const = 0;
  // The decoding settings for one request: the reference's defaults for this model (its
  // generation_config.json and max_new_tokens), overridden by the request's temperature / max tokens.
  virtual nn::GenerationConfig generation_config(const GenerationRequest& request) const = 0;
  // The max_new_tokens a request runs with: its own, else --max_new_tokens, else the reference's default.
  int64_t resolve_max_new_tokens(const GenerationRequest& request, int64_t reference_default) const;
  // Text of the new tokens as the reference decodes them (default: skip special tokens, strip).
  virtual std::string decode_answer(const std::vector<int64_t>& ids) const;

  LocalVlmOptions options_;

 private:
  // GenerateOptions::decode for configs with stop strings: the raw text of ids, special tokens kept.
  std::function<std::string(const std::vector<int64_t>&)> stop_string_decoder() const;
};

}  // namespace mvb
