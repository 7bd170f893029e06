#include "medvlmbench/models/model.h"

namespace mvb {

Registry<ModelEntry>& model_registry() {
  static Registry<ModelEntry> r("model");
  return r;
}

ModelEntry ModelEntry::for_task(const std::string& task) const {
  ModelEntry e = *this;
  auto it = per_task.find(task);
  if (it != per_task.end()) {
    if (!it->second.family.empty()) e.family = it->second.family;
    if (!it->second.default_checkpoint.empty()) e.default_checkpoint = it->second.default_checkpoint;
  }
  return e;
}

}  // namespace mvb
