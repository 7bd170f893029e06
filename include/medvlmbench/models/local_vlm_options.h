// The options every local generative model reads from ModelSpec::options (set by eval's flags
// --max_new_tokens, --batch_size, --reference_compat; see RunConfig::model_options). Apart from
// local_vlm.h so that code reading them (the runner's tests, tools) does not pull in the decoder.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/models/model.h"

namespace mvb {

// Shared options every local VLM reads from ModelSpec::options (set by CLI flags).
struct LocalVlmOptions {
  int max_new_tokens = -1;  // --max_new_tokens; -1 = the model's reference default
  int batch_size = 1;       // preferred generation batch
  // --reference_compat: the reference's input quirks to reproduce (GENERATIVE.md section 3), e.g.
  // "llava_double_preprocess"; "all" = every quirk the model knows. Empty = the intended behaviour.
  std::vector<std::string> reference_compat;
  static LocalVlmOptions from_spec(const ModelSpec& spec);

  // Whether the quirk `name` is to be reproduced (listed, or "all").
  bool compat(const std::string& name) const;
  // Throws UsageError when --reference_compat names a quirk this model does not know, listing
  // `known` (the model's quirk names) so the user can fix the flag.
  void check_compat(const std::vector<std::string>& known, const std::string& model) const;
  // The quirks that run for a model knowing `known` ("all" expanded), for describe() / run.json.
  std::vector<std::string> active_compat(const std::vector<std::string>& known) const;
  nlohmann::json to_json() const;  // {max_new_tokens, batch_size, reference_compat} as given
};

}  // namespace mvb
