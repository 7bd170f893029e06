// Token prices for cost accounting, read from a user-editable JSON table (configs/api_prices.json):
//   {"models": {"o3": {"input": 2.0, "output": 8.0}, ...}}   (USD per million tokens)
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace mvb::api {

struct Price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
};

class PriceTable {
 public:
  PriceTable() = default;
  // Reads `path`; throws mvb::Error naming the file on a bad table.
  static PriceTable load(const std::string& path);
  // The table at --api_prices, else $MVB_API_PRICES, else <source>/configs/api_prices.json; an empty
  // table (costs reported as unknown) when none exists.
  static PriceTable load_default(const std::string& override_path);
  // Exact id, then the id without a trailing -YYYY-MM-DD snapshot date.
  std::optional<Price> find(const std::string& model_id) const;
  const std::string& source() const { return source_; }

 private:
  nlohmann::json models_ = nlohmann::json::object();
  std::string source_;
};

}  // namespace mvb::api
