// Progress of a long loop. On a terminal: one self-overwriting line with count, rate and ETA.
// Otherwise (Slurm logs, pipes): a plain line every `interval_s` seconds and one at the end.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>

namespace mvb {

class Progress {
 public:
  Progress(std::string label, size_t total, double interval_s = -1, std::FILE* out = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(size_t n = 1);
  void finish();

  size_t done() const { return done_; }
  // "12/100 3.4 it/s ETA 00:26" for the current state.
  std::string status_line() const;

  static std::string format_duration(double seconds);

 private:
  void render(bool final_line);

  std::string label_;
  size_t total_;
  size_t done_ = 0;
  std::FILE* out_;
  bool tty_;
  double interval_s_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_render_;
  std::mutex mu_;
};

}  // namespace mvb
