#include "medvlmbench/core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>
#include <mutex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb::log {
namespace {
std::mutex g_mu;
std::shared_ptr<spdlog::sinks::sink> g_file_sink;
}  // namespace

spdlog::level::level_enum parse_level(const std::string& level) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  const std::string l = to_lower(level);
  for (const char* k : kLevels)
    if (l == k) return spdlog::level::from_str(k);
  if (l == "warning") return spdlog::level::warn;
  // transformers' TrainingArguments levels, which the reference's train commands may pass: "passive"
  // keeps the default, "critical" is spdlog's own.
  if (l == "passive") return spdlog::level::info;
  if (l == "critical") return spdlog::level::critical;
  throw UsageError("invalid --log_level '" + level + "'; use one of trace, debug, info, warn, error, off");
}

void init(const std::string& level) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(parse_level(level));
  console->set_pattern("[%H:%M:%S] %^%l%$ %v");
  auto logger = std::make_shared<spdlog::logger>("medvlmbench", spdlog::sinks_init_list{console});
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  g_file_sink.reset();
}

void set_rank(int rank) {
  std::lock_guard<std::mutex> lock(g_mu);
  const std::string tag = "[rank " + std::to_string(rank) + "] ";
  for (auto& sink : spdlog::default_logger()->sinks()) {
    if (sink == g_file_sink) continue;
    sink->set_pattern("[%H:%M:%S] " + tag + "%^%l%$ %v");
    if (rank != 0 && sink->level() < spdlog::level::warn) sink->set_level(spdlog::level::warn);
  }
}

void add_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto logger = spdlog::default_logger();
  if (g_file_sink) {
    auto& sinks = logger->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), g_file_sink), sinks.end());
  }
  try {
    g_file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  } catch (const spdlog::spdlog_ex& e) {
    throw Error("cannot open log file " + path + ": " + e.what());
  }
  g_file_sink->set_level(spdlog::level::debug);
  g_file_sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  logger->sinks().push_back(g_file_sink);
}

void remove_file() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_file_sink) return;
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), g_file_sink), sinks.end());
  g_file_sink->flush();
  g_file_sink.reset();
}

}  // namespace mvb::log
