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
  prune_hook_bookkeeping();
}

bool Tape::is_live(std::uint64_t id) const {
  return id >= first_id_ && id - first_id_ < records_.size() && records_[id - first_id_].rule;
}

// Note [gradient-ready hooks]
// A leaf's gradient is final once every record that reads the leaf has run.
// Records run newest first, so that is the moment the oldest of them has
// run: the first record that declared the leaf as an input after its
// previous watch ended (detail::watch_record_inputs sets first_use then).
// A record built by record_op(bool) did not say what it reads, so it may
// read any leaf: a hook then waits until the oldest such live record has
// run as well. Waiting longer than needed is always correct (the hook sees
// the same final gradient, only later); running early never happens. Hooks
// whose records were freed without a backward (a dropped forward) are
// forgotten, and a leaf used again starts a new watch.
void Tape::watch_leaf(std::uint64_t first_use, std::shared_ptr<detail::LeafHookState> leaf) {
  watches_.push_back(Watch{first_use, first_use, std::move(leaf)});
}

// The leaf's next use starts a new watch (unless a newer one started already).
void Tape::end_watch(const Watch& w) {
  if (w.leaf->tape == this && w.leaf->first_use == w.first_use) w.leaf->tape = nullptr;
}

void Tape::note_undeclared_inputs(std::uint64_t id) { undeclared_.push_back(id); }

void Tape::queue_callback(std::function<void()> callback) { callbacks_.push_back(std::move(callback)); }

void Tape::prune_hook_bookkeeping() {
  std::erase_if(undeclared_, [this](std::uint64_t id) { return !is_live(id); });
  std::erase_if(watches_, [this](const Watch& w) {
    if (is_live(w.first_use)) return false;
    end_watch(w);
    return true;
  });
}

// The watches that end in this backward (records up to last_id), newest
// first, each moved back to the oldest undeclared record before it.
std::vector<Tape::Watch> Tape::take_due_watches(std::uint64_t last_id) {
  std::vector<Watch> due;
  if (watches_.empty()) return due;
  prune_hook_bookkeeping();
  std::uint64_t oldest_undeclared = UINT64_MAX;
  for (const std::uint64_t id : undeclared_) oldest_undeclared = std::min(oldest_undeclared, id);
  std::erase_if(watches_, [&](Watch& w) {
    if (w.fire_after > last_id) return false;  // a newer graph's
    w.fire_after = std::min(w.fire_after, oldest_undeclared);
    due.push_back(std::move(w));
    return true;
  });
  std::sort(due.begin(), due.end(), [](const Watch& a, const Watch& b) { return a.fire_after > b.fire_after; });
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
  std::vector<Watch> due = take_due_watches(last_id);
  std::size_t next_due = 0;
  const auto fire_due = [&](std::uint64_t replayed_id) {
    while (next_due < due.size() && due[next_due].fire_after >= replayed_id) {
      const Watch& w = due[next_due++];
      end_watch(w);
      w.leaf->fire();
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
    callbacks_.clear();
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
  if (!callbacks_.empty()) {
    parallel::wait(parallel::last_submitted_by_this_thread());  // every gradient final
    const auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    for (const auto& c : callbacks) c();
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
  for (std::uint8_t k = 0; k < inputs.hooked_count; ++k) {
    LeafHookState* leaf = inputs.hooked[k];
    if (leaf->tape == &tape && tape.is_live(leaf->first_use)) continue;  // an older record reads it already
    leaf->tape = &tape;
    leaf->first_use = id;
    tape.watch_leaf(id, leaf->shared_from_this());
  }
}
}  // namespace detail

}  // namespace xgrad
