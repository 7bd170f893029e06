// LocalVlm::describe_generation: what run.json records about generation for every local VLM.
#include "medvlmbench/models/local_vlm.h"

namespace mvb {

nlohmann::json LocalVlm::describe_generation(const std::vector<std::string>& known_quirks) const {
  // A request with no overrides gets the model's defaults after --max_new_tokens (options_).
  return {{"generation", generation_config(GenerationRequest{}).to_json()},
          {"reference_compat", options_.active_compat(known_quirks)}};
}

}  // namespace mvb
