#include "medvlmbench/backends/prices.h"

#include <cstdlib>
#include <regex>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"

namespace mvb::api {

PriceTable PriceTable::load(const std::string& path) {
  PriceTable t;
  const nlohmann::json j = io::read_json(path);
  MVB_CHECK(j.is_object() && j.contains("models") && j["models"].is_object(), "price table ", path,
            " must be {\"models\": {\"<model id>\": {\"input\": USD per 1M tokens, \"output\": ...}}}");
  for (const auto& [id, p] : j["models"].items())
    MVB_CHECK(p.is_object() && p.contains("input") && p["input"].is_number() && p.contains("output") &&
                  p["output"].is_number(),
              "price table ", path, ": model '", id, "' needs numeric \"input\" and \"output\" (USD per 1M tokens)");
  t.models_ = j["models"];
  t.source_ = path;
  return t;
}

PriceTable PriceTable::load_default(const std::string& override_path) {
  if (!override_path.empty()) {
    MVB_CHECK(io::exists(override_path), "--api_prices ", override_path,
              " does not exist; copy configs/api_prices.json and edit it");
    return load(override_path);
  }
  if (const char* env = std::getenv("MVB_API_PRICES"); env && *env) return load(env);
  const std::string builtin = std::string(MVB_SOURCE_DIR) + "/configs/api_prices.json";
  if (io::exists(builtin)) return load(builtin);
  return PriceTable();
}

std::optional<Price> PriceTable::find(const std::string& model_id) const {
  auto lookup = [&](const std::string& id) -> std::optional<Price> {
    if (!models_.contains(id)) return std::nullopt;
    return Price{models_[id]["input"].get<double>(), models_[id]["output"].get<double>()};
  };
  if (auto p = lookup(model_id)) return p;
  static const std::regex dated("^(.*)-\\d{4}-\\d{2}-\\d{2}$");
  std::smatch m;
  if (std::regex_match(model_id, m, dated)) return lookup(m[1].str());
  return std::nullopt;
}

}  // namespace mvb::api
