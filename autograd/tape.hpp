#pragma once
// The tape: each differentiable op appends a record (its backward rule and
// the values it saved) in execution order; backward replays the records in
// reverse. Each thread has its own tape, so two threads can record and
// differentiate independent models at the same time.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace xgrad {

class Tape {
 public:
  // A record's backward rule: reads its output's gradient and accumulates
  // into its inputs' gradients. It owns (captures) what it saved.
  using Rule = std::function<void()>;

  // The calling thread's tape.
  static Tape& current();

  // Appends a record; returns its sequence number (unique per tape).
  // `freed_flag` (the output node's record_freed, kept alive by the rule's
  // captures) is set when the record is freed.
  std::uint64_t record(const char* op_name, Rule rule, bool* freed_flag);

  // Replays records from `last_id` down to the oldest kept one. Unless
  // retain_graph, frees those records (and the values they saved). Records
  // made after `last_id` stay. Called by BasicTensor::backward.
  void replay(std::uint64_t last_id, bool retain_graph);

  // Number of records kept, and all records dropped (e.g. after an
  // evaluation pass that recorded by mistake).
  std::size_t size() const { return records_.size(); }
  void clear();

  // The op whose rule is running, for error messages (nullptr outside replay).
  const char* running_op() const { return running_op_; }

 private:
  struct Record {
    const char* op_name;
    Rule rule;
    bool* freed_flag;
  };
  std::deque<Record> records_;
  std::uint64_t first_id_ = 1;  // sequence number of records_.front()
  const char* running_op_ = nullptr;
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
