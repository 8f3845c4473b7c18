#include "xgrad/train/interrupt.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

namespace xgrad::train {

namespace {
std::atomic<bool> stop_requested{false};
int scope_depth = 0;  // scopes are made on the thread that trains
struct sigaction previous_int {
}, previous_term{};

extern "C" void on_stop_signal(int sig) {
  if (stop_requested.exchange(true)) std::_Exit(128 + sig);
  const char msg[] = "\ninterrupted: finishing the current step and saving (signal again to quit now)\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
}
}  // namespace

InterruptScope::InterruptScope() {
  if (scope_depth++ > 0) return;
  stop_requested = false;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptScope::~InterruptScope() {
  if (--scope_depth > 0) return;
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

bool interrupted() { return stop_requested.load(); }

}  // namespace xgrad::train
