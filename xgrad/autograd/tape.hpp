#pragma once
// The tape: each differentiable op appends a record (its backward rule and
// the values it saved) in execution order; backward replays the records in
// reverse. Each thread has its own tape, so two threads can record and
// differentiate independent models at the same time.
//
// Lifetime: backward frees the records it used (unless retain_graph).
// Records of other graphs stay, so two graphs can be recorded interleaved
// and differentiated one after the other. A record whose output nobody can
// reach any more (no handle, no later record) is dead and freed by a sweep
// after each backward, at the first record after one, and as the tape
// grows, so a forward pass whose result is dropped does not leak.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

namespace xgrad {

namespace detail {
struct LeafHookState;  // xgrad/autograd/detail/leaf_hooks.hpp
}

class Tape {
 public:
  // A record's backward rule: if its output received a gradient, adds the
  // inputs' gradients and returns true; returns false otherwise. It owns
  // (captures) the input handles and the values it saved.
  using Rule = std::function<bool()>;

  // The calling thread's tape.
  static Tape& current();

  // Appends a record for `output` (kept alive by the record; the rule may
  // refer to it by raw pointer). `freed_flag` (the output node's
  // record_freed) is set when the record is freed. Returns the record's
  // sequence number (unique per tape).
  // `is_dead(output)` tells whether nothing outside the record can reach
  // the output any more (default: the record holds the only reference).
  // `drop_gradient(output)` discards a gradient the output received but its
  // rule has not consumed; replay calls it on every record when a rule
  // throws, so a failed backward leaves no gradient behind for the next one.
  using DeadCheck = bool (*)(const std::shared_ptr<void>& output);
  using DropGradient = void (*)(const std::shared_ptr<void>& output);
  std::uint64_t record(const char* op_name, Rule rule, std::shared_ptr<void> output, bool* freed_flag,
                       DeadCheck is_dead = nullptr, DropGradient drop_gradient = nullptr);

  // Replays the records from `last_id` down to the oldest one. Unless
  // retain_graph, frees the records whose rules ran. Called by
  // BasicTensor::backward.
  void replay(std::uint64_t last_id, bool retain_graph);

  // Number of live records; and dropping them all.
  std::size_t size() const { return live_; }
  void clear();

  // The op whose rule is running, for error messages (nullptr outside replay).
  const char* running_op() const { return running_op_; }

  // Runs `callback` once at the end of the backward running on this tape,
  // after every gradient is final, or at the end of the next backward when
  // called outside one (PyTorch's queue_callback; DistributedDataParallel
  // waits for its all-reduces there). If a rule throws, `on_error` runs
  // instead, with the exception (when given).
  void queue_callback(std::function<void()> callback, std::function<void(std::exception_ptr)> on_error = {});

  // Whether record `id` exists and has not been freed.
  bool is_live(std::uint64_t id) const;
  // Gradient-ready hooks (Note [gradient-ready hooks] in tape.cpp): record
  // `id` reads `leaf`, or reads inputs it did not declare.
  void note_hooked_reader(std::uint64_t id, detail::LeafHookState& leaf);
  void note_undeclared_inputs(std::uint64_t id);

 private:
  struct Record {
    const char* op_name;
    Rule rule;  // empty once freed
    std::shared_ptr<void> output;
    bool* freed_flag;
    DeadCheck is_dead;  // nullptr: output.use_count() == 1
    DropGradient drop_gradient;
  };
  void free_record(Record& r);
  void sweep_dead_records();
  void drop_freed_prefix();
  std::deque<Record> records_;
  std::uint64_t first_id_ = 1;  // sequence number of records_.front()
  std::size_t live_ = 0;
  std::size_t next_sweep_ = 4096;
  // Set by backward: the first record after it sweeps first. Records that
  // backward did not reach (a layer's full output when the loss read only
  // its last state) are often dropped by the caller right after backward;
  // swept then, they do not sit through the next forward pass.
  bool sweep_before_next_record_ = false;
  const char* running_op_ = nullptr;
  struct Due {
    std::uint64_t fire_after;  // the record after whose replay the hooks run
    detail::LeafHookState* leaf;
  };
  std::vector<Due> due_hooks(std::uint64_t last_id);
  void prune_hook_bookkeeping();
  std::vector<std::shared_ptr<detail::LeafHookState>> hooked_;  // leaves with live readers here
  std::vector<std::uint64_t> undeclared_;                       // live records that did not declare their inputs
  struct Callback {
    std::function<void()> done;
    std::function<void(std::exception_ptr)> failed;
  };
  std::vector<Callback> callbacks_;
};

// Gradient recording on or off for the calling thread (thread-local).
class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool enabled);
};

// RAII scope in which ops record nothing (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace xgrad
