// LocalVlmOptions: the CLI's generation settings as they reach a local VLM through ModelSpec::options
// (RunConfig::model_options writes them; library callers may set them by hand, so every value is
// checked here with an error that names the option).
#include "medvlmbench/models/local_vlm_options.h"

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {
namespace {

int positive_int(const nlohmann::json& o, const char* key, int fallback) {
  if (!o.contains(key) || o[key].is_null()) return fallback;
  const auto& v = o[key];
  MVB_USAGE_CHECK(v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= (1 << 20), "model option ", key,
                  " must be a positive integer, got ", v.dump());
  return v.get<int>();
}

}  // namespace

LocalVlmOptions LocalVlmOptions::from_spec(const ModelSpec& spec) {
  LocalVlmOptions o;
  const nlohmann::json& j = spec.options;
  if (!j.is_object()) return o;
  o.max_new_tokens = positive_int(j, "max_new_tokens", -1);
  o.batch_size = positive_int(j, "batch_size", 1);
  if (j.contains("reference_compat") && !j["reference_compat"].is_null()) {
    const auto& rc = j["reference_compat"];
    // A list (from the CLI) or one comma-separated string (from library callers).
    std::vector<std::string> names;
    if (rc.is_string()) {
      names = split(rc.get<std::string>(), ',');
    } else {
      MVB_USAGE_CHECK(rc.is_array(), "model option reference_compat must be a list of quirk names, got ", rc.dump());
      for (const auto& n : rc) {
        MVB_USAGE_CHECK(n.is_string(), "model option reference_compat must be a list of quirk names, got ", rc.dump());
        names.push_back(n.get<std::string>());
      }
    }
    for (auto& n : names) {
      n = trim(n);
      if (!n.empty() && std::find(o.reference_compat.begin(), o.reference_compat.end(), n) == o.reference_compat.end())
        o.reference_compat.push_back(n);
    }
  }
  return o;
}

bool LocalVlmOptions::compat(const std::string& name) const {
  return std::find(reference_compat.begin(), reference_compat.end(), name) != reference_compat.end() ||
         std::find(reference_compat.begin(), reference_compat.end(), "all") != reference_compat.end();
}

void LocalVlmOptions::check_compat(const std::vector<std::string>& known, const std::string& model) const {
  for (const auto& n : reference_compat) {
    if (n == "all" || std::find(known.begin(), known.end(), n) != known.end()) continue;
    throw UsageError("--reference_compat " + n + ": model " + model + " has no such quirk; " +
                     (known.empty() ? std::string("it reproduces none (drop the flag)")
                                    : "its quirks are: " + join(known, ", ") + " (or all)"));
  }
}

std::vector<std::string> LocalVlmOptions::active_compat(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& k : known)
    if (compat(k)) out.push_back(k);
  return out;
}

nlohmann::json LocalVlmOptions::to_json() const {
  return {{"max_new_tokens", max_new_tokens}, {"batch_size", batch_size}, {"reference_compat", reference_compat}};
}

}  // namespace mvb
