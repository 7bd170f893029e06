// Shared helpers for the fuzz harnesses (fuzz/*_fuzz.cpp).
//
// Most readers take a path (they mmap or stream the file, which is what users hit), so a harness
// writes the input to a scratch file first. The scratch folder is per process, so parallel fuzz jobs
// and the ctest replay never share a file, and is removed at normal exit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace mvb::fuzz {

// $TMPDIR/mvb-fuzz-<pid>/<name>; the folder is created on first use.
inline std::string scratch_path(const std::string& name) {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("mvb-fuzz-" + std::to_string(static_cast<long>(::getpid())));
    std::filesystem::create_directories(d);
    static const std::string keep = d.string();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return d.string();
  }();
  return dir + "/" + name;
}

// Writes `size` bytes to the scratch file `name` (replacing it) and returns its path.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write scratch file %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Called by the harnesses for every mvb::Error (the expected refusal of bad input). Silent unless
// MVB_FUZZ_VERBOSE is set, which shows which seeds a reader accepts and why it refuses the others.
inline void refused(const std::exception& e) {
  static const bool verbose = std::getenv("MVB_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "  refused: %s\n", e.what());
}

}  // namespace mvb::fuzz
