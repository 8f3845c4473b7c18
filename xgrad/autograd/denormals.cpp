#include "xgrad/autograd/denormals.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "xgrad/autograd/detail/denormal_scope.hpp"

namespace xgrad {

namespace {
std::atomic<bool>& flag() {
  static std::atomic<bool> enabled{[] {
    const char* env = std::getenv("XGRAD_FLUSH_DENORMAL");
    return !(env && std::strcmp(env, "0") == 0);
  }()};
  return enabled;
}
}  // namespace

void set_flush_denormal(bool enabled) { flag().store(enabled, std::memory_order_relaxed); }
bool flush_denormal() { return flag().load(std::memory_order_relaxed); }

namespace detail {
bool flush_denormal_enabled() { return flag().load(std::memory_order_relaxed); }
}  // namespace detail

}  // namespace xgrad
