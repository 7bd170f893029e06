#include "medvlmbench/core/process_stats.h"

#include <fstream>

namespace mvb::core {
namespace {

// The number after "key:" on the first line of `file` that starts with it.
int64_t proc_field(const char* file, const std::string& key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

}  // namespace

int64_t proc_status_kb(const std::string& key) { return proc_field("/proc/self/status", key); }

int64_t proc_io_counter(const std::string& key) { return proc_field("/proc/self/io", key); }

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";  // 5 = reset the peak resident set size
  f.close();
  return !f.fail();
}

PeakRssMeter::PeakRssMeter() : available_(reset_peak_rss()), baseline_kb_(proc_status_kb("VmRSS")) {}

int64_t PeakRssMeter::growth_kb() const { return available_ ? proc_status_kb("VmHWM") - baseline_kb_ : -1; }

}  // namespace mvb::core
