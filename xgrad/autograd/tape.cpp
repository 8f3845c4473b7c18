#include "xgrad/autograd/tape.hpp"

#include <algorithm>

#include "xgrad/autograd/detail/denormal_scope.hpp"
#include "xgrad/autograd/detail/leaf_hooks.hpp"
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
  if (sweep_before_next_record_ || records_.size() >= next_sweep_) {
    sweep_before_next_record_ = false;
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
  prune_hook_bookkeeping();
}

bool Tape::is_live(std::uint64_t id) const {
  return id >= first_id_ && id - first_id_ < records_.size() && records_[id - first_id_].rule;
}

// Note [gradient-ready hooks]
// In a backward, a leaf's gradient is final once every record of this
// replay that writes into it has run. Records run newest first, and a
// replay visits every live record up to its root, so that is the moment
// the oldest live record reading the leaf (at or below the root) has run.
// Each op declares its inputs (requires_grad_any -> record_op), and the
// tape keeps, per hooked leaf, the live records that read it
// (detail::LeafHookState::readers). A record built by record_op(bool) did
// not say what it reads, so it may read any leaf: a hook then waits until
// the oldest such live record has run as well. Waiting longer than needed
// is always correct (the hook sees the same final gradient, only later);
// running early never happens. Records that stay live after a replay
// (retain_graph, other graphs) keep their place, so every later backward
// through them runs the hooks again; a hook runs only in a backward that
// wrote into the leaf (LeafHookState::touched).
void Tape::note_hooked_reader(std::uint64_t id, detail::LeafHookState& leaf) {
  if (leaf.tape != this) {
    if (leaf.tape != nullptr && !leaf.readers.empty()) {
      throw std::logic_error(
          "a tensor with gradient-ready hooks (a DistributedDataParallel parameter) is read by ops on two threads' "
          "tapes at once; run its forward and backward passes on one thread at a time");
    }
    leaf.tape = this;
    leaf.readers.clear();
  }
  leaf.readers.push_back(id);
  if (!leaf.watched) {
    leaf.watched = true;
    leaf.touched = false;
    hooked_.push_back(leaf.shared_from_this());
  }
}

void Tape::note_undeclared_inputs(std::uint64_t id) { undeclared_.push_back(id); }

void Tape::queue_callback(std::function<void()> callback, std::function<void(std::exception_ptr)> on_error) {
  callbacks_.push_back(Callback{std::move(callback), std::move(on_error)});
}

void Tape::prune_hook_bookkeeping() {
  std::erase_if(undeclared_, [this](std::uint64_t id) { return !is_live(id); });
  std::erase_if(hooked_, [this](const std::shared_ptr<detail::LeafHookState>& leaf) {
    std::erase_if(leaf->readers, [this](std::uint64_t id) { return !is_live(id); });
    if (!leaf->readers.empty()) return false;
    leaf->watched = false;
    leaf->tape = nullptr;
    return true;
  });
}

// The hooked leaves this backward (records up to last_id) finishes, with
// the record after which each is final, newest first.
std::vector<Tape::Due> Tape::due_hooks(std::uint64_t last_id) {
  std::vector<Due> due;
  if (hooked_.empty()) return due;
  prune_hook_bookkeeping();
  std::uint64_t oldest_undeclared = UINT64_MAX;
  for (const std::uint64_t id : undeclared_) oldest_undeclared = std::min(oldest_undeclared, id);
  for (const auto& leaf : hooked_) {
    leaf->touched = false;
    // readers are in recording order: the first is the oldest.
    if (leaf->readers.front() <= last_id)
      due.push_back({std::min(leaf->readers.front(), oldest_undeclared), leaf.get()});
  }
  std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) { return a.fire_after > b.fire_after; });
  return due;
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
  // Hooked leaves stay alive while this runs: hooked_ holds them, and only
  // the sweep after the loop prunes it.
  const std::vector<Due> due = due_hooks(last_id);
  std::size_t next_due = 0;
  const auto fire_due = [&](std::uint64_t replayed_id) {
    while (next_due < due.size() && due[next_due].fire_after >= replayed_id) {
      detail::LeafHookState* leaf = due[next_due++].leaf;
      if (leaf->touched) leaf->fire();
    }
  };
  try {
    for (std::size_t i = last + 1; i-- > 0;) {
      Record& r = records_[i];
      if (r.rule) {
        running_op_ = r.op_name;
        const bool ran = r.rule();
        if (ran && !retain_graph) free_record(r);
      }
      if (next_due < due.size()) fire_due(first_id_ + i);
    }
  } catch (...) {
    const auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    // A rule threw (a shape error, detect_anomaly): the records below it
    // never ran, and their outputs may hold gradients that a later backward
    // would otherwise push into the leaves. Drop them all.
    parallel::wait(parallel::last_submitted_by_this_thread());
    for (Record& r : records_)
      if (r.rule && r.drop_gradient) r.drop_gradient(r.output);
    for (const auto& c : callbacks)
      if (c.failed) c.failed(std::current_exception());
    throw;
  }
  running_op_ = nullptr;
  sweep_dead_records();
  sweep_before_next_record_ = true;
  if (!callbacks_.empty()) {
    parallel::wait(parallel::last_submitted_by_this_thread());  // every gradient final
    const auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    for (const auto& c : callbacks) c.done();
  }
}

void Tape::clear() {
  for (auto& r : records_) free_record(r);
  drop_freed_prefix();
  prune_hook_bookkeeping();
}

namespace detail {
void watch_record_inputs(Tape& tape, std::uint64_t id, const RecordInputs& inputs) {
  if (!inputs.declared) tape.note_undeclared_inputs(id);
  for (std::uint8_t k = 0; k < inputs.hooked_count; ++k) tape.note_hooked_reader(id, *inputs.hooked[k]);
}
}  // namespace detail

}  // namespace xgrad
