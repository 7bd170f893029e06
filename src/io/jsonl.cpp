#include "medvlmbench/io/jsonl.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"

namespace mvb::io {

JsonlWriter::JsonlWriter(const std::string& path, Mode mode) : path_(path) {
  if (mode == Mode::kAppend && exists(path)) repair_jsonl(path);
  f_ = std::fopen(path.c_str(), mode == Mode::kAppend ? "ab" : "wb");
  MVB_CHECK(f_ != nullptr, "cannot open ", path, " for writing: ", std::strerror(errno));
}

JsonlWriter::~JsonlWriter() {
  if (f_) {
    sync();
    std::fclose(f_);
  }
}

void JsonlWriter::write(const nlohmann::json& row) {
  // One fwrite of the whole line: a kill can tear at most this line, which resume then drops.
  std::string line = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    throw Error("cannot write to " + path_ + ": " + std::strerror(errno));
  ++rows_written_;
}

void JsonlWriter::sync() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!f_) return;
  std::fflush(f_);
  ::fsync(::fileno(f_));
}

JsonlContents read_jsonl(const std::string& path) {
  JsonlContents out;
  const std::string text = read_file(path);
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) {
      // No newline: the process died while writing this line.
      out.torn_bytes = text.size() - pos;
      break;
    }
    const std::string line = text.substr(pos, nl - pos);
    if (!line.empty()) {
      try {
        out.rows.push_back(nlohmann::json::parse(line));
      } catch (const nlohmann::json::exception&) {  // parse_error, or out_of_range for 1e999
        if (text.find_first_not_of(" \t\r\n", nl) == std::string::npos) {
          out.torn_bytes = text.size() - pos;  // last line garbled
          break;
        }
        throw Error(path + ":" + std::to_string(line_no) +
                    ": corrupt JSON line in the middle of the file; fix or delete that line");
      }
    }
    pos = nl + 1;
    out.valid_bytes = pos;
  }
  return out;
}

void repair_jsonl(const std::string& path) {
  JsonlContents c = read_jsonl(path);
  if (c.torn_bytes == 0) return;
  MVB_CHECK(::truncate(path.c_str(), static_cast<off_t>(c.valid_bytes)) == 0, "cannot truncate ", path, ": ",
            std::strerror(errno));
}

}  // namespace mvb::io
