#include "xgrad/train/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace xgrad::train {

namespace {
std::string format_seconds(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}
}  // namespace

std::string format_metrics(const ProgressMetrics& metrics) {
  std::string out;
  char buf[96];
  for (const auto& [name, value] : metrics) {
    const double a = value < 0 ? -value : value;
    if (a != 0 && (a < 1e-3 || a >= 1e5))
      std::snprintf(buf, sizeof buf, "%s: %.3e", name.c_str(), value);
    else
      std::snprintf(buf, sizeof buf, "%s: %.4f", name.c_str(), value);
    out += (out.empty() ? "" : " - ") + std::string(buf);
  }
  return out;
}

EpochProgress::EpochProgress(std::size_t epoch, std::size_t epochs, std::size_t steps, bool quiet)
    : epoch_(epoch),
      epochs_(epochs),
      steps_(steps),
      quiet_(quiet),
      tty_(::isatty(STDOUT_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void EpochProgress::update(std::size_t step, const ProgressMetrics& running) {
  if (quiet_ || !tty_ || steps_ == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (step < steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double per_step = elapsed / static_cast<double>(step);
  const int width = 24, filled = static_cast<int>(width * step / steps_);
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, '.');
  std::printf("\rEpoch %zu/%zu %zu/%zu [%s] - %s %.0fms/step - ETA %s - %s\033[K", epoch_, epochs_, step, steps_,
              bar.c_str(), format_seconds(elapsed).c_str(), per_step * 1e3,
              format_seconds(per_step * static_cast<double>(steps_ - step)).c_str(), format_metrics(running).c_str());
  std::fflush(stdout);
}

double EpochProgress::finish(const ProgressMetrics& metrics) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (!quiet_) {
    std::printf("%sEpoch %zu/%zu - %zu steps - %s %.0fms/step - %s\n", tty_ ? "\r\033[K" : "", epoch_, epochs_, steps_,
                format_seconds(elapsed).c_str(), elapsed * 1e3 / static_cast<double>(steps_ ? steps_ : 1),
                format_metrics(metrics).c_str());
    std::fflush(stdout);
  }
  return elapsed;
}

}  // namespace xgrad::train
