#include "medvlmbench/models/checkpoint_path.h"

#include <cstdlib>
#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/hub_cache.h"

namespace fs = std::filesystem;

namespace mvb {
namespace {

std::string absolute_folder(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

ResolvedModelPath from_folder(const std::string& requested, const std::string& folder, const std::string& source) {
  ResolvedModelPath r;
  r.requested = requested;
  r.folder = absolute_folder(folder);
  r.revision = io::hub_snapshot_revision(r.folder);  // a snapshot folder given directly keeps its hash
  r.source = source;
  return r;
}

// Looks `id` up in models/ and then the hub cache; the error lists every place searched.
ResolvedModelPath find_checkpoint(const std::string& requested, const std::string& id, const std::string& cache_dir,
                                  const std::string& what) {
  const bool hub_id = id.find('/') != std::string::npos;
  const std::string local = io::join_path(models_dir(), hub_id ? id.substr(id.find('/') + 1) : id);
  if (io::is_directory(local)) {
    ResolvedModelPath r = from_folder(requested, local, "models/");
    r.hub_id = hub_id ? id : "";
    return r;
  }
  std::vector<std::string> searched{local + " (models folder)"};
  std::vector<std::string> problems;
  if (hub_id) {
    io::HubLookup h = io::find_hub_model(id, cache_dir);
    if (h.snapshot) {
      ResolvedModelPath r;
      r.requested = requested;
      r.folder = absolute_folder(h.snapshot->folder);
      r.hub_id = id;
      r.revision = h.snapshot->revision;
      r.source = "hub cache (" + h.snapshot->root.origin + ")";
      return r;
    }
    searched.insert(searched.end(), h.searched.begin(), h.searched.end());
    problems = h.problems;
  }
  std::string msg = "--model_path " + requested + ": " + what + " " + id +
                    " was not found (nothing is downloaded); searched " + join(searched, ", ");
  if (!problems.empty()) msg += "; " + join(problems, "; ");
  if (hub_id)
    msg += "; download it with `huggingface-cli download " + id +
           "` (into the hub cache) or `git clone https://huggingface.co/" + id + " " + local +
           "`, or pass the checkpoint folder as --model_path";
  else
    msg += "; put the checkpoint in " + local + " (see models/README.md) or pass its folder as --model_path";
  throw Error(msg);
}

}  // namespace

nlohmann::json ResolvedModelPath::to_json() const {
  return {{"requested", requested}, {"folder", folder}, {"hub_id", hub_id}, {"revision", revision}, {"source", source}};
}

bool names_default_checkpoint(const std::string& model_path) {
  return model_path == "original_pretrained" || model_path == "not_given";
}

std::string models_dir() {
  const char* env = std::getenv("MVB_MODELS_DIR");
  return env && *env ? std::string(env) : std::string("models");
}

ResolvedModelPath resolve_checkpoint_folder(const std::string& model_path, const std::string& cache_dir,
                                            const std::string& default_of, const std::string& model_name) {
  MVB_USAGE_CHECK(!model_path.empty(),
                  "--model_path is empty; give a checkpoint folder, a hub id or original_pretrained");
  if (io::is_directory(model_path)) return from_folder(model_path, model_path, "folder");
  if (names_default_checkpoint(model_path)) {
    MVB_USAGE_CHECK(!default_of.empty(), "--model_path ", model_path, ": ",
                    model_name.empty() ? std::string("without --model there is no default checkpoint")
                                       : "model " + model_name + " has no default checkpoint",
                    "; pass the checkpoint folder (see models/README.md)");
    return find_checkpoint(model_path, default_of, cache_dir,
                           (model_name.empty() ? std::string("the") : model_name + "'s") + " default checkpoint");
  }
  MVB_CHECK(io::is_hub_repo_id(model_path) && model_path.find('/') != std::string::npos, "--model_path ", model_path,
            " is not a folder; point it at the checkpoint folder (see models/README.md), give a hub id "
            "(org/name) or original_pretrained");
  return find_checkpoint(model_path, model_path, cache_dir, "checkpoint");
}

ResolvedModelPath resolve_model_path(const std::string& model_name, const ModelEntry& entry,
                                     const std::string& model_path, const std::string& cache_dir) {
  if (!entry.needs_checkpoint) {
    ResolvedModelPath r;
    r.requested = model_path;
    r.folder = model_path;  // seeded or remote models read nothing from disk (API: original_pretrained)
    r.source = "not needed";
    return r;
  }
  return resolve_checkpoint_folder(model_path, cache_dir, entry.default_checkpoint, model_name);
}

}  // namespace mvb
