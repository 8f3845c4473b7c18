#include "autograd/tape.hpp"

#include "autograd/parallel.hpp"

#include <stdexcept>
#include <string>

namespace xgrad {

namespace {
thread_local bool grad_mode_enabled = true;

}  // namespace

bool GradMode::enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

std::uint64_t Tape::record(const char* op_name, Rule rule, bool* freed_flag) {
  records_.push_back(Record{op_name, std::move(rule), freed_flag});
  return first_id_ + records_.size() - 1;
}

void Tape::replay(std::uint64_t last_id, bool retain_graph) {
  if (last_id < first_id_) {
    throw std::logic_error(
        "backward: the tape records of this graph were already freed by an earlier backward; "
        "pass retain_graph=true to the first backward to run it twice");
  }
  const std::size_t last = static_cast<std::size_t>(last_id - first_id_);
  if (last >= records_.size()) throw std::logic_error("backward: tensor is not on this thread's tape");
  // Rules may leave weight-gradient jobs running on a worker
  // (autograd/parallel.hpp); every gradient is final when backward returns,
  // also when a rule throws.
  struct RunningGuard {
    const char*& slot;
    ~RunningGuard() {
      slot = nullptr;
      parallel::wait(parallel::last_submitted_by_this_thread());
    }
  } guard{running_op_};
  for (std::size_t i = last + 1; i-- > 0;) {
    running_op_ = records_[i].op_name;
    records_[i].rule();
  }
  running_op_ = nullptr;
  if (!retain_graph) {
    for (std::size_t i = 0; i <= last; ++i) {
      *records_[i].freed_flag = true;
    }
    records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(last + 1));
    first_id_ += last + 1;
  }
}

void Tape::clear() {
  for (auto& r : records_) {
    *r.freed_flag = true;
  }
  first_id_ += records_.size();
  records_.clear();
}

}  // namespace xgrad
