// predictions.jsonl: one JSON object per line, appended and flushed as each sample finishes, so a
// crash or kill never loses a finished prediction. On --resume the existing file is read back, a
// torn last line (the process died mid-write) is cut off, and the ids already done are skipped.
#pragma once

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace mvb::io {

class JsonlWriter {
 public:
  // mode: "append" keeps existing rows (after repairing a torn tail), "truncate" starts empty.
  enum class Mode { kAppend, kTruncate };
  JsonlWriter(const std::string& path, Mode mode);
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  // Writes one row as a single line and flushes it to the OS (thread-safe).
  void write(const nlohmann::json& row);
  // fsync: called at batch ends and at close so even a machine crash loses little.
  void sync();
  size_t rows_written() const { return rows_written_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  size_t rows_written_ = 0;
  std::mutex mu_;
};

struct JsonlContents {
  std::vector<nlohmann::json> rows;
  size_t torn_bytes = 0;   // bytes after the last complete, valid line
  size_t valid_bytes = 0;  // length of the valid prefix
};

// Reads every complete, valid line. A final line without newline or that fails to parse is reported
// in torn_bytes (not an error: it is what a kill mid-write leaves). A corrupt line in the middle is
// an error naming the file and line number.
JsonlContents read_jsonl(const std::string& path);
// Cuts a torn tail off the file in place (used before appending on resume).
void repair_jsonl(const std::string& path);

}  // namespace mvb::io
