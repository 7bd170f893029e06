#include "medvlmbench/io/hub_cache.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "medvlmbench/core/strings.h"

namespace fs = std::filesystem;

namespace mvb::io {
namespace {

std::optional<std::string> env_value(const EnvLookup& env, const std::string& name) {
  std::optional<std::string> v = env(name);
  if (v && v->empty()) return std::nullopt;  // HF_HOME= (empty) is as good as unset
  return v;
}

// os.path.expanduser for the forms people write: "~" and "~/..." (HOME).
std::string expand_user(const std::string& p, const EnvLookup& env) {
  if (p == "~" || starts_with(p, "~/")) {
    const std::optional<std::string> home = env_value(env, "HOME");
    if (home) return *home + p.substr(1);
  }
  return p;
}

std::string normalized(const std::string& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return (ec ? fs::path(p) : abs).lexically_normal().string();
}

std::string read_ref(const fs::path& file) {
  std::ifstream in(file);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return trim(s);
}

std::vector<std::string> snapshot_names(const fs::path& repo) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(repo / "snapshots", ec))
    if (e.is_directory()) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool valid_repo_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::vector<HubCacheRoot> hub_cache_roots(const std::string& cache_dir, const EnvLookup& env) {
  std::vector<HubCacheRoot> roots;
  std::set<std::string> seen;
  auto add = [&](const std::string& path, const std::string& origin) {
    const std::string p = normalized(expand_user(path, env));
    if (seen.insert(p).second) roots.push_back({p, origin});
  };
  if (!cache_dir.empty()) {
    add(cache_dir, "--cache_dir");
    add((fs::path(expand_user(cache_dir, env)) / "hub").string(), "--cache_dir as HF_HOME");
  }
  // transformers 4.x's own variables (utils/hub.py); each wins over the hub's when set.
  for (const char* v : {"TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE"})
    if (auto p = env_value(env, v)) add(*p, v);
  // huggingface_hub.constants: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else <HF_HOME>/hub with
  // HF_HOME defaulting to $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface.
  if (auto p = env_value(env, "HF_HUB_CACHE")) add(*p, "HF_HUB_CACHE");
  if (auto p = env_value(env, "HUGGINGFACE_HUB_CACHE")) add(*p, "HUGGINGFACE_HUB_CACHE");
  if (auto p = env_value(env, "HF_HOME")) add((fs::path(expand_user(*p, env)) / "hub").string(), "HF_HOME/hub");
  if (auto p = env_value(env, "XDG_CACHE_HOME"))
    add((fs::path(expand_user(*p, env)) / "huggingface" / "hub").string(), "XDG_CACHE_HOME/huggingface/hub");
  if (env_value(env, "HOME")) add("~/.cache/huggingface/hub", "default");
  return roots;
}

bool is_hub_repo_id(const std::string& s) {
  if (s.empty() || s.size() > 96 + 1 + 96) return false;
  if (s.find("--") != std::string::npos || s.find("..") != std::string::npos) return false;
  const size_t slash = s.find('/');
  if (slash != std::string::npos && s.find('/', slash + 1) != std::string::npos) return false;
  const std::vector<std::string> parts = slash == std::string::npos
                                             ? std::vector<std::string>{s}
                                             : std::vector<std::string>{s.substr(0, slash), s.substr(slash + 1)};
  for (const std::string& p : parts) {
    if (p.empty() || p.front() == '-' || p.front() == '.' || p.back() == '-' || p.back() == '.') return false;
    if (!std::all_of(p.begin(), p.end(), valid_repo_char)) return false;
  }
  return true;
}

std::string hub_repo_folder(const std::string& repo_id, HubRepoType type) {
  std::string folder = type == HubRepoType::kModel ? "models--" : "datasets--";
  for (char c : repo_id) folder += c == '/' ? std::string("--") : std::string(1, c);
  return folder;
}

HubLookup find_in_hub_cache(const std::string& repo_id, HubRepoType type, const std::vector<HubCacheRoot>& roots,
                            const std::string& revision) {
  HubLookup out;
  const std::string name = hub_repo_folder(repo_id, type);
  for (const HubCacheRoot& root : roots) {
    const fs::path repo = fs::path(root.path) / name;
    out.searched.push_back(repo.string() + " (" + root.origin + ")");
    std::error_code ec;
    if (!fs::is_directory(repo, ec)) continue;
    std::string hash, ref;
    const fs::path ref_file = repo / "refs" / revision;
    if (fs::is_regular_file(ref_file, ec)) {
      hash = read_ref(ref_file);
      ref = revision;
    } else if (fs::is_directory(repo / "snapshots" / revision, ec)) {
      hash = revision;  // a commit hash given directly
    } else {
      const std::vector<std::string> snaps = snapshot_names(repo);
      out.problems.push_back(
          repo.string() + " has no refs/" + revision +
          (snaps.empty() ? std::string(" and no snapshots") : " (snapshots: " + join(snaps, ", ") + ")") +
          "; pass a snapshot folder as --model_path, or download again with `huggingface-cli "
          "download " +
          repo_id + "`");
      continue;
    }
    const fs::path snap = repo / "snapshots" / hash;
    if (hash.empty() || !fs::is_directory(snap, ec)) {
      out.problems.push_back(ref_file.string() + " names snapshot '" + hash + "', which is not in " +
                             (repo / "snapshots").string() + "; download again with `huggingface-cli download " +
                             repo_id + "`");
      continue;
    }
    out.snapshot = HubSnapshot{repo_id, snap.string(), hash, ref, root};
    return out;
  }
  return out;
}

HubLookup find_hub_model(const std::string& repo_id, const std::string& cache_dir, const EnvLookup& env) {
  return find_in_hub_cache(repo_id, HubRepoType::kModel, hub_cache_roots(cache_dir, env));
}

HubLookup find_hub_dataset(const std::string& repo_id, const std::string& cache_dir, const EnvLookup& env) {
  return find_in_hub_cache(repo_id, HubRepoType::kDataset, hub_cache_roots(cache_dir, env));
}

std::string hub_snapshot_revision(const std::string& folder) {
  // .../models--org--name/snapshots/<hash>[/sub/folder]
  const fs::path p = fs::path(normalized(folder));
  std::vector<std::string> parts;
  for (const auto& part : p) parts.push_back(part.string());
  for (size_t i = 1; i + 1 < parts.size(); ++i)
    if (parts[i] == "snapshots" && (starts_with(parts[i - 1], "models--") || starts_with(parts[i - 1], "datasets--")))
      return parts[i + 1];
  return "";
}

}  // namespace mvb::io
