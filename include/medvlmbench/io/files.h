// File helpers with the guarantees runs rely on: whole-file writes are atomic (temp file + fsync +
// rename), so a crash leaves either the old or the new file, never half of one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb::io {

// Reads a whole file; throws mvb::Error naming the path when it cannot.
std::string read_file(const std::string& path);
// Writes `content` to `path` atomically (path.tmp.<pid> then rename).
void write_file_atomic(const std::string& path, const std::string& content);
void write_json_atomic(const std::string& path, const nlohmann::json& j, int indent = 2);
// Parses a JSON file; the error names the file and the line/column.
nlohmann::json read_json(const std::string& path);
bool exists(const std::string& path);
bool is_directory(const std::string& path);
// Creates a directory and parents; throws if `path` exists as a file.
void create_directories(const std::string& path);
// path/.. joined with '/', normalising a trailing separator.
std::string join_path(const std::string& a, const std::string& b);
std::string basename(const std::string& path);
// True when `child`, after normalisation, lies inside `root` (no ../ escape).
bool is_within(const std::string& root, const std::string& child);

}  // namespace mvb::io
