// What --model_path names, resolved to the folder a model factory reads.
//
// The reference's commands use `--model_path original_pretrained` (eval) and `not_given` (train) for
// "the model's default pretrained checkpoint", which transformers then finds in the Hugging Face hub
// cache; a bare hub id (`openai/clip-vit-base-patch16`) is read the same way. Here:
//   1. an existing folder is used as it is;
//   2. original_pretrained / not_given become the model's ModelEntry::default_checkpoint, and an
//      "org/name" that is not a folder is taken as a hub id;
//   3. that id is looked for in models/<name>/ (MVB_MODELS_DIR overrides models/), then in the hub cache
//      (io/hub_cache.h: --cache_dir, then transformers' environment variables and default location).
// Nothing is downloaded: when nothing is found, the error names every place searched and the id to
// download.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "medvlmbench/models/model.h"

namespace mvb {

struct ResolvedModelPath {
  std::string requested;  // --model_path as given
  std::string folder;     // the folder to load (absolute), or `requested` for models that need none
  std::string hub_id;     // the hub id it stands for ("" for a plain folder)
  std::string revision;   // the hub snapshot's commit hash, when the folder is one ("" otherwise)
  // How it was found: "folder", "models/", "hub cache (<origin>)", or "not needed".
  std::string source;
  nlohmann::json to_json() const;
};

// "original_pretrained" and "not_given": the reference's words for the default checkpoint.
bool names_default_checkpoint(const std::string& model_path);

// MVB_MODELS_DIR when set, else "models" (relative to the working directory, as models/README.md says).
std::string models_dir();

// --model_path of a run with --model `model_name` (its registry entry).
ResolvedModelPath resolve_model_path(const std::string& model_name, const ModelEntry& entry,
                                     const std::string& model_path, const std::string& cache_dir);

// --model_path without a model (check): a folder, or a hub id looked up as above. `default_of`, when
// not empty, is the id original_pretrained / not_given stand for.
ResolvedModelPath resolve_checkpoint_folder(const std::string& model_path, const std::string& cache_dir,
                                            const std::string& default_of = "", const std::string& model_name = "");

}  // namespace mvb
