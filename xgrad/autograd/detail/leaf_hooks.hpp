#pragma once
// What a leaf with post-accumulate-grad hooks carries, and how the tape
// finds the moment its gradient is final (Note [gradient-ready hooks] in
// xgrad/autograd/tape.cpp). An op author never sees this: requires_grad_any
// collects the hooked inputs and record_op hands them to the tape.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace xgrad {
class Tape;
}

namespace xgrad::detail {

struct LeafHookState : std::enable_shared_from_this<LeafHookState> {
  // Each runs one registered hook if the leaf holds a gradient (after
  // waiting for the gradient jobs still writing it).
  std::vector<std::function<void()>> hooks;
  // The records of `tape` that declared the leaf as an input, oldest first
  // (freed ones are pruned at each backward). One tape at a time: a leaf
  // with hooks read on two threads' tapes at once is refused.
  Tape* tape = nullptr;
  std::vector<std::uint64_t> readers;
  bool watched = false;  // on tape's list of hooked leaves
  // Set when a rule writes into the leaf's gradient (node_for_gradient);
  // cleared when a backward starts: the hooks run only in a backward that
  // gave the leaf a gradient, as PyTorch's do.
  bool touched = false;

  void fire() const {
    for (const auto& h : hooks) h();
  }
};

// The inputs an op declared through requires_grad_any: whether it records,
// and which of its inputs are leaves with hooks. `declared` is false when
// record_op was given a plain bool (the tape then assumes the record may
// read any leaf: correct, only later).
struct RecordInputs {
  bool record = false;
  bool declared = true;
  std::uint8_t hooked_count = 0;
  std::array<LeafHookState*, 4> hooked{};

  explicit operator bool() const { return record; }
  void add_hooked(LeafHookState* state) {
    if (hooked_count < hooked.size()) {
      hooked[hooked_count++] = state;
    } else {
      declared = false;  // too many to list: be conservative
    }
  }
};

// Called by record_op once the record `id` is on `tape`.
void watch_record_inputs(Tape& tape, std::uint64_t id, const RecordInputs& inputs);

}  // namespace xgrad::detail
