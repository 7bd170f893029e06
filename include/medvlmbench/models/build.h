// Building a model from its registry entry, shared by eval, train and `check --model_path`, so check
// refuses exactly what eval refuses (issue 18, defect 9).
#pragma once

#include <memory>
#include <string>

#include "medvlmbench/io/checkpoint_inspect.h"
#include "medvlmbench/models/model.h"

namespace mvb {

// entry.factory(spec), with nlohmann's type errors (a string where a number belongs in a config the
// loaders read without a typed reader) turned into an mvb::Error naming the checkpoint folder.
std::unique_ptr<Model> build_model(const std::string& name, const ModelEntry& entry, const ModelSpec& spec);

// The registered model a checkpoint folder is for, from what inspect_checkpoint read (config.json's
// model_type, open_clip_config.json, MedCLIP/PMC-CLIP marker files); "" when it cannot be told.
std::string model_for_checkpoint(const io::CheckpointSummary& s);

}  // namespace mvb
