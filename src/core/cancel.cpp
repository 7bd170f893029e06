#include "medvlmbench/core/cancel.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

namespace mvb {
namespace {
std::atomic<int> g_signal{0};
std::atomic<bool> g_cancel{false};

extern "C" void on_signal(int sig) {
  if (g_cancel.exchange(true)) {
    // Second signal: the user insists. Finished rows are already flushed to disk. The exit code is
    // 130 whichever signals came (SIGTERM twice from Slurm too), as documented for an interrupted run.
    static const char msg[] = "\nsecond interrupt: exiting now\n";
    (void)!::write(2, msg, sizeof msg - 1);
    std::_Exit(130);
  }
  g_signal = sig;
  static const char msg[] = "\ninterrupt: finishing the current batch, then stopping (again to force)\n";
  (void)!::write(2, msg, sizeof msg - 1);
}
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
bool cancel_requested() { return g_cancel.load(std::memory_order_relaxed); }
void request_cancel() { g_cancel = true; }
void reset_cancel() {
  g_cancel = false;
  g_signal = 0;
}
int cancel_signal() { return g_signal.load(); }

}  // namespace mvb
