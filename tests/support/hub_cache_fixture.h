// Builds a Hugging Face hub cache entry in the real on-disk layout (as `huggingface-cli download`
// leaves it) from a folder of files, for tests of checkpoint/dataset resolution: the files go to
// blobs/, snapshots/<revision>/ holds relative symlinks to them, refs/main holds the revision.
#pragma once

#include <string>

namespace mvb::test {

// Copies every regular file under `source_folder` (recursively) into
// <cache_root>/<models|datasets>--<org>--<name>/ and returns the snapshot folder. `write_ref` false
// leaves refs/main out (a download by commit hash).
std::string make_hub_cache_entry(const std::string& cache_root, const std::string& repo_id,
                                 const std::string& source_folder, const std::string& revision, bool dataset = false,
                                 bool write_ref = true);

}  // namespace mvb::test
