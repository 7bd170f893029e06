#include "support/hub_cache_fixture.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mvb::test {

std::string make_hub_cache_entry(const std::string& cache_root, const std::string& repo_id,
                                 const std::string& source_folder, const std::string& revision, bool dataset,
                                 bool write_ref) {
  std::string name = dataset ? "datasets--" : "models--";
  for (char c : repo_id) name += c == '/' ? std::string("--") : std::string(1, c);
  const fs::path repo = fs::path(cache_root) / name;
  const fs::path snap = repo / "snapshots" / revision;
  fs::create_directories(repo / "blobs");
  fs::create_directories(snap);
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(source_folder)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), source_folder);
    // Real blob names are content hashes; any unique name keeps the layout (the reader never parses them).
    const std::string blob = "blob" + std::to_string(n++) + "_" + revision.substr(0, 8);
    fs::copy_file(e.path(), repo / "blobs" / blob, fs::copy_options::overwrite_existing);
    const fs::path link = snap / rel;
    fs::create_directories(link.parent_path());
    fs::create_symlink(fs::relative(repo / "blobs" / blob, link.parent_path()), link);
  }
  if (n == 0) throw std::runtime_error("make_hub_cache_entry: no files in " + source_folder);
  if (write_ref) {
    fs::create_directories(repo / "refs");
    std::ofstream(repo / "refs" / "main") << revision;  // no newline, as huggingface_hub writes it
  }
  return snap.string();
}

}  // namespace mvb::test
