#pragma once
// How record_op (xgrad/autograd/function.hpp) puts a rule on the tape: the
// wrapper around the rule that waits for gradient jobs, checks anomalies,
// and recycles the output gradient once the rule has run. An op author
// never calls these directly.

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/detail/buffer_pool.hpp"
#include "xgrad/autograd/detail/gradient_buffers.hpp"
#include "xgrad/autograd/detail/leaf_hooks.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tape.hpp"

namespace xgrad::detail {

// Anomaly mode (xgrad/autograd/anomaly.hpp): whether it is on for this
// thread, the check of an op's output value, and the check of the gradients
// the running rule wrote (node_for_gradient notes each target while on).
// Note [inline thread_local]: defined here with its constant initializer, not
// `extern`: for an extern thread_local GCC calls a TLS wrapper that UBSan
// (GCC 12) reports as a store through a null pointer, a false positive the
// sanitizer CI build would fail on. Seeing the initializer, no wrapper is used.
inline thread_local bool anomaly_mode = false;
template <class T>
void check_forward_anomaly(const char* op, const xt::xarray<T>& value);
template <class T>
void check_backward_anomaly(const char* op, const TensorNode<T>& output);
template <class T>
void note_gradient_target(TensorNode<T>* node);
void forget_noted_gradients();

// Calls a rule in whichever form it was written: (g) or (g, out), with g a
// const xt::xarray<T>& or, for a rule that may take over the output
// gradient's buffer, an OutputGradient<T>& (Note [gradient buffers]).
template <class T, class Rule>
void invoke_rule(Rule& rule, OutputGradient<T>& g, const xt::xarray<T>& out) {
  using Array = const xt::xarray<T>&;
  if constexpr (std::is_invocable_v<Rule&, Array, Array>) {
    rule(g.get(), out);
  } else if constexpr (std::is_invocable_v<Rule&, Array>) {
    rule(g.get());
  } else if constexpr (std::is_invocable_v<Rule&, OutputGradient<T>&, Array>) {
    rule(g, out);
  } else {
    static_assert(std::is_invocable_v<Rule&, OutputGradient<T>&>,
                  "a rule takes (g) or (g, out): g is the output gradient, out the output value");
    rule(g);
  }
}

// Whether invoke_rule passes `out` to a rule of this form (its first or
// third case). A rule without it never reads its output's value (it sees
// only gradients and what it captured), so the value may be taken or freed
// once no handle can reach it (detail::take_unshared_value).
template <class T, class Rule>
constexpr bool rule_reads_output_v = std::is_invocable_v<Rule&, const xt::xarray<T>&, const xt::xarray<T>&> ||
                                     (!std::is_invocable_v<Rule&, const xt::xarray<T>&> &&
                                      std::is_invocable_v<Rule&, OutputGradient<T>&, const xt::xarray<T>&>);

// Drops a non-retained gradient once the rule that consumed it has run,
// keeping its buffer for the next gradient of that size. A job that only
// reads it may still be running (a multi-output record does not wait for
// such a job before its rule): the buffer then goes back once the job is done.
template <class T>
void drop_consumed_gradient(TensorNode<T>& node) {
  if (node.retains_grad) return;
  if (node.speed.grad_job_only_reads) {
    release_after_job(node.speed.grad_job, std::move(node.grad));
    node.speed.grad_job = 0;
    node.speed.grad_job_only_reads = false;
  } else {
    release_buffer(std::move(node.grad));
  }
  node.grad = empty_array<T>();
  node.has_grad = false;
}

// Appends `out`'s record: the rule runs in backward if `out` received a
// gradient.
template <class T, class Rule>
void append_record(const char* op, const BasicTensor<T>& out, const RecordInputs& inputs, Rule&& rule) {
  const auto& node = out.node_ptr();
  node->requires_grad = true;
  node->speed.record_reads_value = rule_reads_output_v<T, std::decay_t<Rule>>;
  Tape& tape = Tape::current();
  TensorNode<T>* raw = node.get();  // the record keeps the node alive
  raw->tape = &tape;
  raw->record_id = tape.record(
      op,
      [raw, op, rule = std::forward<Rule>(rule)]() mutable {
        if (!raw->has_grad) return false;
        // Any job on the gradient, even one that only reads it (a GEMM's dC):
        // the rule may take the buffer over and write into it.
        wait_grad_job(*raw);
        if (anomaly_mode) forget_noted_gradients();
        OutputGradient<T> g(raw->grad, !raw->retains_grad);
        invoke_rule<T>(rule, g, raw->value);
        if (anomaly_mode) check_backward_anomaly(op, *raw);
        drop_consumed_gradient(*raw);
        return true;
      },
      node, &raw->record_freed, nullptr,
      [](const std::shared_ptr<void>& p) {
        auto* n = static_cast<TensorNode<T>*>(p.get());
        if (!n->retains_grad) n->has_grad = false;
      });
  watch_record_inputs(tape, raw->record_id, inputs);
}

// Appends one record for several outputs (record_multi_output_op).
template <class T, class Rule>
void append_multi_output_record(const char* op, const std::vector<BasicTensor<T>>& outputs, const RecordInputs& inputs,
                                Rule&& rule) {
  // Owns the output nodes for the record; when the record is freed, every
  // output is marked freed (the tape's flag covers only the first).
  struct Outputs {
    std::vector<std::shared_ptr<TensorNode<T>>> nodes;
    ~Outputs() {
      for (auto& n : nodes) n->record_freed = true;
    }
  };
  Tape& tape = Tape::current();
  auto held = std::make_shared<Outputs>();
  held->nodes.reserve(outputs.size());
  for (const auto& o : outputs) {
    auto node = o.node_ptr();
    node->requires_grad = true;
    node->tape = &tape;
    node->speed.record_reads_value = false;
    held->nodes.push_back(std::move(node));
  }
  Outputs* raw = held.get();  // the record keeps `held` alive
  bool* freed_flag = &raw->nodes.front()->record_freed;
  const std::uint64_t id = tape.record(
      op,
      [raw, op, rule = std::forward<Rule>(rule)]() mutable {
        // Reused across calls (rules do not nest): no allocation per step.
        thread_local std::vector<const xt::xarray<T>*> grads;
        grads.assign(raw->nodes.size(), nullptr);
        bool any = false;
        for (std::size_t i = 0; i < grads.size(); ++i) {
          // A job that only reads a gradient (a GEMM's dC) may go on: these
          // rules only read theirs, and drop_consumed_gradient hands the
          // buffer back once the job is done.
          wait_grad_writer(*raw->nodes[i]);
          if (raw->nodes[i]->has_grad) {
            grads[i] = &raw->nodes[i]->grad;
            any = true;
          }
        }
        if (!any) return false;
        if (anomaly_mode) forget_noted_gradients();
        rule(grads);
        if (anomaly_mode) check_backward_anomaly(op, *raw->nodes.front());
        for (auto& n : raw->nodes) drop_consumed_gradient(*n);
        return true;
      },
      held, freed_flag,
      // Dead once no output is held outside the record.
      [](const std::shared_ptr<void>& p) {
        for (const auto& n : static_cast<const Outputs*>(p.get())->nodes)
          if (n.use_count() > 1) return false;
        return true;
      },
      [](const std::shared_ptr<void>& p) {
        for (const auto& n : static_cast<const Outputs*>(p.get())->nodes)
          if (!n->retains_grad) n->has_grad = false;
      });
  for (auto& n : held->nodes) n->record_id = id;
  watch_record_inputs(tape, id, inputs);
}

}  // namespace xgrad::detail
