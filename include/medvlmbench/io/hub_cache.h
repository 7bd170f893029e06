// Reading the Hugging Face hub cache (what `huggingface-cli download`, `snapshot_download` and
// `from_pretrained` leave on disk), so a checkpoint or dataset the user already has is found by its hub
// id. Nothing is ever downloaded.
//
// Layout of one cache root (huggingface_hub's file_download.py):
//   <root>/models--<org>--<name>/refs/main          the commit hash "main" points to (no newline)
//   <root>/models--<org>--<name>/snapshots/<hash>/  the repository's files (symlinks into blobs/)
//   <root>/models--<org>--<name>/blobs/<etag>       the file contents
//   <root>/datasets--<org>--<name>/...              the same for dataset repositories
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mvb::io {

enum class HubRepoType { kModel, kDataset };

// One folder that may hold models--*/datasets--* entries, and why it is searched.
struct HubCacheRoot {
  std::string path;
  std::string origin;  // e.g. "--cache_dir", "--cache_dir as HF_HOME", "HF_HUB_CACHE", "default"
};

// Environment lookup (getenv by default; tests pass their own). Unset and empty read the same.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> process_env(const std::string& name);

// The cache roots to search, in transformers' order of precedence, duplicates removed:
//   1. cache_dir itself (from_pretrained(cache_dir=...) and the reference's TRANSFORMERS_CACHE=cache_dir)
//   2. cache_dir/hub (the reference's --cache_dir also sets HF_HOME=cache_dir)
//   3. TRANSFORMERS_CACHE, PYTORCH_TRANSFORMERS_CACHE, PYTORCH_PRETRAINED_BERT_CACHE (transformers 4.x)
//   4. HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub,
//      else ~/.cache/huggingface/hub (huggingface_hub.constants)
// transformers reads only the first of these that is set; every one is searched here (first hit wins),
// since nothing is downloaded into any of them. "~" is expanded with HOME.
std::vector<HubCacheRoot> hub_cache_roots(const std::string& cache_dir, const EnvLookup& env = process_env);

// "org/name" (or "name" for the old root-level repositories such as "bert-base-uncased") as
// huggingface_hub's repo-id rules allow: letters, digits, '-', '_', '.', at most one '/', no "--" or
// "..", not starting or ending with '-' or '.'.
bool is_hub_repo_id(const std::string& s);

// "models--org--name" / "datasets--org--name": the repository's folder in a cache root.
std::string hub_repo_folder(const std::string& repo_id, HubRepoType type);

struct HubSnapshot {
  std::string repo_id;
  std::string folder;    // <root>/<repo folder>/snapshots/<revision>
  std::string revision;  // the commit hash
  std::string ref;       // the ref it was found through ("main"), or "" when `revision` was a hash
  HubCacheRoot root;
};

struct HubLookup {
  std::optional<HubSnapshot> snapshot;
  std::vector<std::string> searched;  // "<folder> (<origin>)" for every place looked at
  // Repository folders that exist but do not resolve (no refs/main, or a ref to a missing snapshot),
  // each with what is wrong and the fix; empty when none.
  std::vector<std::string> problems;
};

// Finds `repo_id` at `revision` (a ref name such as "main", or a commit hash) under `roots`, in order.
// A repository folder without the ref is not used (transformers would not use it offline either); it is
// reported in `problems` with the snapshots it does hold.
HubLookup find_in_hub_cache(const std::string& repo_id, HubRepoType type, const std::vector<HubCacheRoot>& roots,
                            const std::string& revision = "main");

// The two uses: a model checkpoint and a dataset repository (e.g. BoKelvin/SLAKE), at "main".
HubLookup find_hub_model(const std::string& repo_id, const std::string& cache_dir, const EnvLookup& env = process_env);
HubLookup find_hub_dataset(const std::string& repo_id, const std::string& cache_dir,
                           const EnvLookup& env = process_env);

// When `folder` is (inside) a hub-cache snapshot, its commit hash; "" otherwise.
std::string hub_snapshot_revision(const std::string& folder);

}  // namespace mvb::io
