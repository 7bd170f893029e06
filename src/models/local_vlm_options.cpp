// LocalVlmOptions from ModelSpec::options (filled from the CLI flags by the pipeline).
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/models/local_vlm.h"

namespace mvb {

LocalVlmOptions LocalVlmOptions::from_spec(const ModelSpec& spec) {
  LocalVlmOptions o;
  const nlohmann::json& j = spec.options;
  if (j.contains("max_new_tokens") && !j["max_new_tokens"].is_null()) {
    MVB_USAGE_CHECK(j["max_new_tokens"].is_number_integer(), "--max_new_tokens must be an integer");
    o.max_new_tokens = j["max_new_tokens"].get<int>();
  }
  if (j.contains("batch_size") && j["batch_size"].is_number_integer() && j["batch_size"].get<int>() > 0)
    o.batch_size = j["batch_size"].get<int>();
  if (j.contains("reference_compat")) {
    const auto& rc = j["reference_compat"];
    if (rc.is_string()) {
      for (const auto& part : split(rc.get<std::string>(), ','))
        if (!trim(part).empty()) o.reference_compat.push_back(trim(part));
    } else if (rc.is_array()) {
      for (const auto& v : rc) o.reference_compat.push_back(v.get<std::string>());
    }
  }
  return o;
}

}  // namespace mvb
