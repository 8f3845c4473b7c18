#include "xgrad/autograd/tape.hpp"

#include <algorithm>

#include "xgrad/autograd/detail/denormal_scope.hpp"
#include "xgrad/autograd/detail/parallel.hpp"

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

std::uint64_t Tape::record(const char* op_name, Rule rule, std::shared_ptr<void> output, bool* freed_flag,
                           DeadCheck is_dead, DropGradient drop_gradient) {
  if (records_.size() >= next_sweep_) {
    sweep_dead_records();
    next_sweep_ = std::max<std::size_t>(4096, 2 * records_.size());
  }
  records_.push_back(Record{op_name, std::move(rule), std::move(output), freed_flag, is_dead, drop_gradient});
  ++live_;
  return first_id_ + records_.size() - 1;
}

void Tape::free_record(Record& r) {
  if (!r.rule) return;
  *r.freed_flag = true;  // the node is still alive here: `output` holds it
  r.rule = nullptr;      // releases the saved values and input handles
  r.output.reset();
  --live_;
}

// A record whose output is held by nothing but the record itself can never
// receive a gradient. Newest first, so that freeing one (which releases its
// inputs) exposes older dead records in the same pass.
void Tape::sweep_dead_records() {
  for (std::size_t i = records_.size(); i-- > 0;) {
    Record& r = records_[i];
    if (r.rule && (r.is_dead ? r.is_dead(r.output) : r.output.use_count() == 1)) free_record(r);
  }
  drop_freed_prefix();
}

void Tape::drop_freed_prefix() {
  while (!records_.empty() && !records_.front().rule) {
    records_.pop_front();
    ++first_id_;
  }
}

void Tape::replay(std::uint64_t last_id, bool retain_graph) {
  if (last_id < first_id_ || last_id - first_id_ >= records_.size() || !records_[last_id - first_id_].rule) {
    throw std::logic_error(
        "backward: the tape records of this graph were already freed by an earlier backward; "
        "pass retain_graph=true to the first backward to run it twice");
  }
  const std::size_t last = static_cast<std::size_t>(last_id - first_id_);
  const detail::DenormalScope denormals;  // Note [denormal scope]
  // Rules may leave weight-gradient jobs running on a worker
  // (xgrad/autograd/detail/parallel.hpp); every gradient is final when backward returns,
  // also when a rule throws.
  struct RunningGuard {
    const char*& slot;
    ~RunningGuard() {
      slot = nullptr;
      parallel::wait(parallel::last_submitted_by_this_thread());
    }
  } guard{running_op_};
  try {
    for (std::size_t i = last + 1; i-- > 0;) {
      Record& r = records_[i];
      if (!r.rule) continue;
      running_op_ = r.op_name;
      const bool ran = r.rule();
      if (ran && !retain_graph) free_record(r);
    }
  } catch (...) {
    // A rule threw (a shape error, detect_anomaly): the records below it
    // never ran, and their outputs may hold gradients that a later backward
    // would otherwise push into the leaves. Drop them all.
    parallel::wait(parallel::last_submitted_by_this_thread());
    for (Record& r : records_)
      if (r.rule && r.drop_gradient) r.drop_gradient(r.output);
    throw;
  }
  running_op_ = nullptr;
  sweep_dead_records();
}

void Tape::clear() {
  for (auto& r : records_) free_record(r);
  drop_freed_prefix();
}

}  // namespace xgrad
