#include "medvlmbench/tasks/rows.h"

namespace mvb {

nlohmann::json reference_failed_row(const nlohmann::json& row, std::initializer_list<const char*> keys) {
  nlohmann::json e = {{"image_path", row.value("image_path", "")},
                      {"prediction", ""},
                      {"error", row.value("error", "")},
                      {"status", "failed"}};
  for (const char* k : keys)
    if (row.contains(k)) e[k] = row[k];
  return e;
}

}  // namespace mvb
