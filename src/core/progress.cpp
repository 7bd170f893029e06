#include "medvlmbench/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>

namespace mvb {

namespace {
bool is_tty(std::FILE* f) { return f && ::isatty(::fileno(f)) == 1; }
}  // namespace

Progress::Progress(std::string label, size_t total, double interval_s, std::FILE* out)
    : label_(std::move(label)), total_(total), out_(out), tty_(is_tty(out)), interval_s_(interval_s) {
  if (interval_s_ < 0) {
    // Batch logs get a line every 30 s (MVB_PROGRESS_INTERVAL overrides); terminals redraw at 10 Hz.
    const char* env = std::getenv("MVB_PROGRESS_INTERVAL");
    interval_s_ = tty_ ? 0.1 : (env ? std::atof(env) : 30.0);
  }
  start_ = last_render_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string Progress::status_line() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  char buf[256];
  if (total_ > 0) {
    const double eta = rate > 0 ? (total_ - std::min(done_, total_)) / rate : NAN;
    std::snprintf(buf, sizeof buf, "%s %zu/%zu (%.0f%%) %.2f it/s elapsed %s ETA %s", label_.c_str(), done_, total_,
                  100.0 * done_ / total_, rate, format_duration(elapsed).c_str(), format_duration(eta).c_str());
  } else {
    std::snprintf(buf, sizeof buf, "%s %zu %.2f it/s elapsed %s", label_.c_str(), done_, rate,
                  format_duration(elapsed).c_str());
  }
  return buf;
}

void Progress::advance(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_render_).count() >= interval_s_) {
    last_render_ = now;
    render(/*final_line=*/false);
  }
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  render(/*final_line=*/true);
}

void Progress::render(bool final_line) {
  if (!out_) return;
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s%s", status_line().c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "progress: %s\n", status_line().c_str());
  }
  std::fflush(out_);
}

}  // namespace mvb
