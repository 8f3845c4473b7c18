#pragma once
// Ctrl-C (SIGINT) and SIGTERM (kill, a batch system's time limit, docker
// stop) ask training to stop after the current step, so what was done can
// be saved; a second signal leaves at once with the shell's 128 + signal
// status. fit installs the handlers while it runs; a program that also
// wants a signal during data loading or between several fits to count
// holds an InterruptScope around all of it.

namespace xgrad::train {

// Installs the stop handlers for its lifetime and restores the previous
// ones after. Scopes nest: only the outermost installs, clears the stop
// request and restores, so an inner fit sees a signal that arrived before it.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

// True once a stop was asked for inside the outermost live scope.
bool interrupted();

}  // namespace xgrad::train
