// What /proc says about this process: resident memory, its peak, and bytes read from storage. Used by
// the benchmarks and the memory tests, which report loading cost as peak-RSS growth and bytes read.
#pragma once

#include <cstdint>
#include <string>

namespace mvb::core {

// kB of a line of /proc/self/status such as "VmHWM" (peak RSS) or "VmRSS"; -1 where it is absent.
int64_t proc_status_kb(const std::string& key);

// A counter of /proc/self/io such as "read_bytes" (bytes fetched from storage); -1 where it is absent.
int64_t proc_io_counter(const std::string& key);

// Resets VmHWM to the current RSS (Linux >= 4.0), so a later VmHWM is the peak of what follows;
// false where /proc does not allow it (then peaks cannot be measured).
bool reset_peak_rss();

// Peak-RSS growth over a stretch of code: construction resets VmHWM and remembers VmRSS, growth_kb()
// is VmHWM minus that baseline (what loading a model, or a run, needed on top of what was resident).
class PeakRssMeter {
 public:
  PeakRssMeter();
  // false where VmHWM cannot be reset (then growth is -1).
  bool available() const { return available_; }
  int64_t growth_kb() const;
  double growth_mib() const { return available_ ? growth_kb() / 1024.0 : -1; }

 private:
  bool available_ = false;
  int64_t baseline_kb_ = 0;
};

}  // namespace mvb::core
