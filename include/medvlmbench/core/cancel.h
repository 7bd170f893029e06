// Cooperative cancellation: SIGINT/SIGTERM set a flag that loops check between batches, so a
// Ctrl-C or a Slurm time limit stops the run with every finished prediction kept.
#pragma once

namespace mvb {

// Installs the SIGINT/SIGTERM handlers (idempotent). A second signal exits at once.
void install_signal_handlers();
bool cancel_requested();
void request_cancel();  // for tests and internal aborts
void reset_cancel();    // for tests
int cancel_signal();    // the signal that caused it, or 0

}  // namespace mvb
