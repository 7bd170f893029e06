// Logging: spdlog to stderr (level from --log_level) plus, once a run directory exists, a file
// sink (eval.log / train.log). Results that programs read go to stdout, never through the logger.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace mvb::log {

// Sets up the console logger. `level`: trace, debug, info, warn, error, off.
void init(const std::string& level);
// Adds a file sink that receives everything from now on (at debug level or the console level,
// whichever is lower).
void add_file(const std::string& path);
// Drops the file sink (e.g. between runs in one process, as in tests).
void remove_file();
// For a process of a multi-process job: every line says "[rank N]", and ranks other than 0 show only
// warnings and errors (rank 0 speaks for the job).
void set_rank(int rank);
// Parses a level name; throws UsageError listing the valid levels.
spdlog::level::level_enum parse_level(const std::string& level);

}  // namespace mvb::log
