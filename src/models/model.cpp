#include "medvlmbench/models/model.h"

#include "medvlmbench/models/model_task_entries.h"

namespace mvb {

Registry<ModelEntry>& model_registry() {
  static Registry<ModelEntry> r("model");
  return r;
}

Registry<ModelEntry>& model_task_registry() {
  static Registry<ModelEntry> r("model task entry");
  return r;
}

std::string model_task_key(const std::string& model, const std::string& task) { return model + "@" + task; }

const ModelEntry& model_entry_for(const std::string& name, const std::string& task) {
  const std::string canonical = model_registry().canonical(name);
  if (const ModelEntry* e = model_task_registry().find(model_task_key(canonical, task))) return *e;
  return model_registry().get(canonical);
}

}  // namespace mvb
