// One model name may serve tasks with different families: the reference's BLIP and BLIP2-2.7b are
// generative models for vqa / caption and contrastive backbones (of another checkpoint) for diagnosis.
// Such a model registers its main entry in model_registry() (listing every task) and, for the tasks
// served differently, a task entry here under model_task_key(name, task):
//
//   MVB_REGISTER(model_task_registry(), model_task_key("BLIP2-2.7b", "diagnosis"),
//                ModelEntry{"contrastive", {"diagnosis"}, ...});
//
// Whoever builds a model for a task asks model_entry_for(name, task).
#pragma once

#include <string>

#include "medvlmbench/models/model.h"

namespace mvb {

Registry<ModelEntry>& model_task_registry();
std::string model_task_key(const std::string& model, const std::string& task);
// The entry that serves `task` for the registered model `name` (any spelling model_registry()
// accepts): its task entry when one is registered, else its main entry. UsageError for an unknown name.
const ModelEntry& model_entry_for(const std::string& name, const std::string& task);

}  // namespace mvb
