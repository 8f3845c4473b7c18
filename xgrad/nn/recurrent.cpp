// Recurrent layers from generic ops. Per layer and direction: the input
// projection of all time steps is one GEMM (x W_ih^T + b, biases folded
// where the equations allow), then each step is one GEMM on the recurrent
// input plus elementwise gate math. The tape records every step; backward
// through time is its replay.
#include "xgrad/nn/recurrent.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <optional>
#include <stdexcept>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/detail/parallel.hpp"  // parallel_for (Note [batch parts])
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/packed_weights.hpp"
#include "xgrad/autograd/pointwise.hpp"
#include "xgrad/autograd/shape_ops.hpp"
#include "xgrad/autograd/tape.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/init.hpp"

namespace xgrad::nn {

namespace {

std::size_t gate_count(CellKind kind) {
  switch (kind) {
    case CellKind::RNNTanh:
    case CellKind::RNNReLU:
      return 1;
    case CellKind::LSTM:
      return 4;
    case CellKind::GRU:
      return 3;
  }
  return 1;
}

const char* kind_name(CellKind kind) {
  switch (kind) {
    case CellKind::RNNTanh:
    case CellKind::RNNReLU:
      return "RNN";
    case CellKind::LSTM:
      return "LSTM";
    case CellKind::GRU:
      return "GRU";
  }
  return "RNN";
}

template <class T>
struct State {
  BasicTensor<T> h, c;
};

// The bias added to the hoisted input projection: both biases where the
// equations only ever add them (RNN, LSTM); GRU keeps b_hh inside r * (...).
template <class T>
BasicTensor<T> projection_bias(CellKind kind, const BasicTensor<T>& bias_ih, const BasicTensor<T>& bias_hh) {
  if (!bias_ih.defined()) return {};
  if (kind == CellKind::GRU) return bias_ih;
  return bias_ih + bias_hh;
}

// Time steps per input-projection block: about 1 MiB of projection, so a
// block stays in cache between its GEMM and its steps, and at least two
// steps (so slicing the block is split between threads). The A/B against
// one whole-sequence projection is in bench/RESULTS.md.
std::size_t projection_block_steps(std::size_t steps, std::size_t step_elements, std::size_t element_size) {
  constexpr std::size_t kBlockBytes = std::size_t(1) << 20;
  constexpr std::size_t kMinSteps = 2;
  const std::size_t per_step = std::max<std::size_t>(1, step_elements * element_size);
  return std::max<std::size_t>(1, std::min(steps, std::max(kMinSteps, kBlockBytes / per_step)));
}

// The cell math of an LSTM or RNN step on its gate pre-activations
// (B, G*H) = x W_ih^T + h W_hh^T + biases; state: (h, c) before the step.
template <class T>
State<T> cell_from_gates(CellKind kind, const BasicTensor<T>& gates, const State<T>& state) {
  switch (kind) {
    case CellKind::RNNTanh:
      return {tanh(gates), {}};
    case CellKind::RNNReLU:
      return {relu(gates), {}};
    case CellKind::LSTM: {
      // The gate math as one fused op over the (B, 4H) gates read in place
      // (i, f, g, o); its derivative comes from the same equations.
      auto [h, c] = fused_pointwise<5, 2>(
          "lstm_cell",
          [](auto i, auto f, auto g, auto o, auto c_prev) {
            using namespace xgrad::pointwise;
            const auto c_next = sigmoid(f) * c_prev + sigmoid(i) * tanh(g);
            return std::tuple{sigmoid(o) * tanh(c_next), c_next};
          },
          in_chunks(gates, 4), state.c);
      return {std::move(h), std::move(c)};
    }
    case CellKind::GRU:
      break;
  }
  throw std::logic_error("cell_from_gates: a GRU step needs cell_step");
}

// One time step. x_proj: (B, G*H) input projection with its bias, consumed
// (addmm takes its buffer when no one else can read it: no copy); h_in:
// the recurrent input (h, after recurrent dropout); state: (h, c) before
// the step.
template <class T>
State<T> cell_step(CellKind kind, BasicTensor<T> x_proj, const BasicTensor<T>& h_in, const State<T>& state,
                   const BasicTensor<T>& weight_hh, const BasicTensor<T>& bias_hh) {
  if (kind != CellKind::GRU)
    return cell_from_gates(kind, addmm(std::move(x_proj), h_in, weight_hh, false, true), state);
  // x_proj: (B, 3H) input projection with b_ih (r, z, n); hg: h W_hh^T + b_hh.
  const BasicTensor<T> hg = bias_hh.defined() ? linear(h_in, weight_hh, bias_hh) : matmul(h_in, weight_hh, false, true);
  auto [h] = fused_pointwise<7, 1>(
      "gru_cell",
      [](auto xr, auto xz, auto xn, auto hr, auto hz, auto hn, auto h_prev) {
        using namespace xgrad::pointwise;
        const auto r = sigmoid(xr + hr);
        const auto z = sigmoid(xz + hz);
        const auto n = tanh(xn + r * hn);
        return n + z * (h_prev - n);  // (1 - z) n + z h
      },
      in_chunks(x_proj, 3), in_chunks(hg, 3), state.h);
  return {std::move(h), {}};
}

void check_shape(const std::string& who, const char* what, const Shape& got, const Shape& expected) {
  if (got != expected) {
    throw std::invalid_argument(who + ": " + what + " must have shape " + shape_to_string(expected) + ", got " +
                                shape_to_string(got));
  }
}

}  // namespace

template <class T>
Recurrent<T>::Recurrent(CellKind kind, RecurrentOptions options) : kind_(kind), options_(options) {
  const std::string who = kind_name(kind);
  if (options.input_size == 0 || options.hidden_size == 0) {
    throw std::invalid_argument(who + ": input_size and hidden_size must be positive");
  }
  if (options.num_layers == 0) throw std::invalid_argument(who + ": num_layers must be at least 1");
  for (double p : {options.dropout, options.recurrent_dropout, options.input_dropout}) {
    if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument(who + ": dropout probabilities must be in [0, 1)");
  }
  const std::size_t gh = gate_count(kind) * options.hidden_size;
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.hidden_size));
  for (std::size_t layer = 0; layer < options.num_layers; ++layer) {
    const std::size_t in = layer == 0 ? options.input_size : options.hidden_size * num_directions();
    for (std::size_t d = 0; d < num_directions(); ++d) {
      const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
      LayerParameters p;
      p.weight_ih = this->register_parameter("weight_ih" + suffix, BasicTensor<T>::zeros({gh, in}));
      p.weight_hh = this->register_parameter("weight_hh" + suffix, BasicTensor<T>::zeros({gh, options.hidden_size}));
      if (options.bias) {
        p.bias_ih = this->register_parameter("bias_ih" + suffix, BasicTensor<T>::zeros({gh}));
        p.bias_hh = this->register_parameter("bias_hh" + suffix, BasicTensor<T>::zeros({gh}));
      }
      layers_.push_back(p);
    }
  }
  for (auto& p : this->parameters()) init::uniform_(p, -bound, bound);
}

template <class T>
std::string Recurrent<T>::type_name() const {
  return kind_name(kind_);
}

template <class T>
const typename Recurrent<T>::LayerParameters& Recurrent<T>::layer_parameters(std::size_t layer,
                                                                             std::size_t direction) const {
  if (layer >= options_.num_layers || direction >= num_directions()) {
    throw std::out_of_range(type_name() + ": no layer " + std::to_string(layer) + " direction " +
                            std::to_string(direction));
  }
  return layers_[layer * num_directions() + direction];
}

template <class T>
RecurrentOutput<T> Recurrent<T>::forward_states(const BasicTensor<T>& input, const BasicTensor<T>& h0,
                                                const BasicTensor<T>& c0, const std::vector<std::size_t>& lengths) {
  const std::string who = type_name();
  const RecurrentOptions& o = options_;
  if (!input.defined() || input.dim() != 3) {
    throw std::invalid_argument(who + ": expected input of rank 3 " +
                                (o.batch_first ? "(batch, time, features)" : "(time, batch, features)") +
                                ", got shape " + (input.defined() ? shape_to_string(input.shape()) : "undefined"));
  }
  if (input.size(2) != o.input_size) {
    throw std::invalid_argument(who + ": input has " + std::to_string(input.size(2)) +
                                " features per step but input_size is " + std::to_string(o.input_size));
  }
  // Work time-major: (T, B, F).
  const BasicTensor<T> x = o.batch_first ? transpose(input, 0, 1) : input;
  const std::size_t steps = x.size(0), batch = x.size(1), hidden = o.hidden_size, dirs = num_directions();
  if (steps == 0 || batch == 0) throw std::invalid_argument(who + ": input has no time steps or no sequences");
  const Shape state_shape{o.num_layers * dirs, batch, hidden};
  if (h0.defined()) check_shape(who, "h0", h0.shape(), state_shape);
  if (c0.defined()) {
    if (kind_ != CellKind::LSTM) throw std::invalid_argument(who + ": c0 is only for LSTM");
    check_shape(who, "c0", c0.shape(), state_shape);
  }
  if (!lengths.empty()) {
    if (lengths.size() != batch) {
      throw std::invalid_argument(who + ": " + std::to_string(lengths.size()) + " lengths given for a batch of " +
                                  std::to_string(batch));
    }
    for (std::size_t b = 0; b < batch; ++b) {
      if (lengths[b] < 1 || lengths[b] > steps) {
        throw std::invalid_argument(who + ": length " + std::to_string(lengths[b]) + " of sequence " +
                                    std::to_string(b) + " is outside [1, " + std::to_string(steps) + "]");
      }
    }
  }
  const bool training = this->is_training();
  const bool dropout_active = training && (o.dropout > 0 || o.recurrent_dropout > 0 || o.input_dropout > 0);
  RecurrentOutput<T> out;
  if (!GradMode::enabled() && !dropout_active && batch >= 2 * kMinPartRows) {
    out = run_in_batch_parts(x, h0, c0, lengths);
  } else {
    out = run_time_major(x, h0, c0, lengths);
  }
  if (o.batch_first) out.output = transpose(out.output, 0, 1);
  return out;
}

// Note [batch parts]: with nothing recorded (no_grad) and no dropout, the
// sequences of a batch are independent computations, so the batch is run
// as two halves, each its whole time loop on its own thread, and joined
// at the end (with one direction in the last layer, the halves' step
// outputs are copied once into the output): a step's products and gate
// math for 64 sequences (about 60 us on two cores) otherwise meet at two
// fork-joins per step, where a core waits for the other (with perf, 11-21%
// of the worker's samples in an imdb evaluation). Each half's ops run on
// one thread (a fork-join inside a fork-join runs serially).
// The halves are a function of the batch size alone, run one after the
// other on one thread, so the results do not depend on the thread count
// (Note [deterministic GEMM partition]); xgrad's kernel computes each row
// the same in any partition, so they also have the bits of the whole
// batch. The recorded path keeps one tape on the calling thread; dropout
// draws from the calling thread's generator.
template <class T>
RecurrentOutput<T> Recurrent<T>::run_in_batch_parts(const BasicTensor<T>& x, const BasicTensor<T>& h0,
                                                    const BasicTensor<T>& c0, const std::vector<std::size_t>& lengths) {
  const std::size_t batch = x.size(1), half = (batch / 2 + kMinPartRows - 1) / kMinPartRows * kMinPartRows;
  const std::size_t starts[2] = {0, half}, sizes[2] = {half, batch - half};
  RecurrentOutput<T> parts[2];
  std::vector<BasicTensor<T>> part_steps[2];  // a one-direction last layer's (part rows, H) outputs
  std::exception_ptr errors[2];
  parallel::parallel_for(2, [&](std::size_t p) {
    try {
      const NoGradGuard no_grad;  // a worker thread's own grad mode
      const auto slice = [&](const BasicTensor<T>& t) {
        return t.defined() ? narrow(t, 1, starts[p], sizes[p]) : BasicTensor<T>();
      };
      std::vector<std::size_t> part_lengths;
      if (!lengths.empty()) {
        part_lengths.assign(lengths.begin() + std::ptrdiff_t(starts[p]),
                            lengths.begin() + std::ptrdiff_t(starts[p] + sizes[p]));
      }
      parts[p] = run_time_major(slice(x), slice(h0), slice(c0), part_lengths, &part_steps[p]);
    } catch (...) {
      errors[p] = std::current_exception();
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  RecurrentOutput<T> out;
  if (!part_steps[0].empty()) {
    // Step t's rows of both parts, in order, are row block t of the
    // (T, B, H) output: one copy into it, where stacking each part's steps
    // and then joining the parts copied the output twice.
    const std::size_t steps = part_steps[0].size(), hidden = options_.hidden_size;
    std::vector<BasicTensor<T>> rows;
    rows.reserve(2 * steps);
    for (std::size_t t = 0; t < steps; ++t) {
      rows.push_back(std::move(part_steps[0][t]));
      rows.push_back(std::move(part_steps[1][t]));
    }
    out.output = reshape(concat<T>(rows, 0), {std::ptrdiff_t(steps), std::ptrdiff_t(batch), std::ptrdiff_t(hidden)});
  } else {
    out.output = concat<T>({parts[0].output, parts[1].output}, 1);
  }
  out.h_n = concat<T>({parts[0].h_n, parts[1].h_n}, 1);
  if (parts[0].c_n.defined()) out.c_n = concat<T>({parts[0].c_n, parts[1].c_n}, 1);
  return out;
}

// x: (T, B, F), time-major; h0, c0: (L * D, B, H) or undefined; lengths
// checked. Returns the output time-major.
template <class T>
RecurrentOutput<T> Recurrent<T>::run_time_major(const BasicTensor<T>& x, const BasicTensor<T>& h0,
                                                const BasicTensor<T>& c0, const std::vector<std::size_t>& lengths,
                                                std::vector<BasicTensor<T>>* last_steps) {
  const RecurrentOptions& o = options_;
  const std::size_t steps = x.size(0), batch = x.size(1), hidden = o.hidden_size, dirs = num_directions();
  // Per step, which sequences are still running: (B, 1) masks of 0/1.
  std::vector<BasicTensor<T>> running;
  if (!lengths.empty()) {
    for (std::size_t t = 0; t < steps; ++t) {
      xt::xarray<T> m = xt::empty<T>(Shape{batch, 1});
      for (std::size_t b = 0; b < batch; ++b) m(b, 0) = t < lengths[b] ? T(1) : T(0);
      running.emplace_back(std::move(m));
    }
  }
  const bool training = this->is_training();
  const BasicTensor<T> zeros = BasicTensor<T>::zeros({batch, hidden});

  // The input projections of a block of steps in one GEMM, made just
  // before the block's steps run: (L, B, G*H), L from
  // projection_block_steps (about 1 MiB). A block is still a large GEMM
  // (L*B rows), but it stays in cache until its steps read it, where
  // one (T, B, G*H) projection of a long sequence (26 MB for imdb)
  // goes through memory on every pass (bias fill, slicing, each step's
  // read; the same for its gradient in backward).
  const std::size_t block = o.projection_block
                                ? std::min(o.projection_block, steps)
                                : projection_block_steps(steps, batch * gate_count(kind_) * hidden, sizeof(T));
  BasicTensor<T> layer_input = x;
  std::vector<BasicTensor<T>> h_final, c_final;
  for (std::size_t layer = 0; layer < o.num_layers; ++layer) {
    // Input dropout: one mask per sequence. With several blocks it is
    // applied to each block as it is projected (below), in narrow's copy;
    // masking the whole sequence first kept a second copy of it until
    // backward. One block: masked once here, for both directions.
    BasicTensor<T> input_mask;
    if (training && o.input_dropout > 0) {
      input_mask = dropout_mask<T>({1, batch, layer_input.size(2)}, o.input_dropout, default_generator());
      if (block >= steps) {
        layer_input = mask(layer_input, input_mask);
        input_mask = BasicTensor<T>();
      }
    }
    // Note [inference step]: with nothing recorded (no_grad), an LSTM or RNN
    // step's gates are one product, [x_t, h] [W_ih, W_hh]^T + b with
    // K = F + H, instead of a projection block (x W_ih^T + b for L steps,
    // then unbound into L step tensors, a copy of every gate value) and an
    // addmm per step: each step copies x_t and h (F + H values a row)
    // instead of its 4H projected gates, and one product per step replaces
    // two. xgrad's kernel sums a product's terms in order, from the bias,
    // so the gates have the bits of the recorded path; OpenBLAS rounds
    // them its own way (within float rounding). GRU keeps the recorded
    // path (its n gate needs h W_hn^T alone), as does input dropout in
    // several blocks (masked per block). So does a batch of fewer than 8
    // sequences (one tile of the kernel's rows): a step's product is then
    // a matrix-vector product that reads all of [W_ih, W_hh] for one row,
    // where the hoisted projection of many steps is one GEMM (a 200-token
    // review: 1.2 ms the hoisted way, 1.5 ms per step).
    constexpr std::size_t kMinInferenceStepRows = 8;
    const bool inference_steps =
        !GradMode::enabled() && kind_ != CellKind::GRU && !input_mask.defined() && batch >= kMinInferenceStepRows;
    const std::vector<BasicTensor<T>> step_slices =
        inference_steps ? unbind(layer_input, 0) : std::vector<BasicTensor<T>>();  // (B, F) each
    std::vector<BasicTensor<T>> direction_outputs;
    const bool keep_steps = last_steps != nullptr && dirs == 1 && layer + 1 == o.num_layers;
    for (std::size_t d = 0; d < dirs; ++d) {
      const LayerParameters& p = layers_[layer * dirs + d];
      const std::size_t index = layer * dirs + d;
      const BasicTensor<T> bias = projection_bias(kind_, p.bias_ih, p.bias_hh);
      std::vector<BasicTensor<T>> step_inputs(steps);  // each consumed by its step
      // Projects steps [first, first + count) into step_inputs.
      auto project = [&](std::size_t first, std::size_t count) {
        BasicTensor<T> block_input = count == steps ? layer_input : narrow(layer_input, 0, first, count);
        if (input_mask.defined()) block_input = mask(std::move(block_input), input_mask);  // in place
        // Every step's (B, G*H) slice from one op: one record and one pass
        // over the block's gradient, instead of a select per step.
        std::vector<BasicTensor<T>> pieces = unbind(linear(block_input, p.weight_ih, bias), 0);
        for (std::size_t i = 0; i < count; ++i) step_inputs[first + i] = std::move(pieces[i]);
      };
      auto project_block_of = [&](std::size_t t) {
        const std::size_t first = t / block * block;
        project(first, std::min(block, steps - first));
      };
      // Note [projection ahead]: with nothing recorded and the whole
      // projection one block (a review at batch 1: 200 steps of 4H
      // values), the caller projects the first 32 steps and worker 0 the
      // rest, in blocks of 32, 64, 128... steps in the order the loop takes
      // them, while the loop runs (Note [work ahead]): the projection, a
      // fifth of a 200-token review on one core, leaves the critical path
      // but for its first block. The caller's block covers the worker's
      // wake-up (50-90 us from sleep on the 2026-12-07 host; 32 steps take
      // about 150). Each row of a projection has the same bits in any
      // block only on xgrad's kernel (it sums every element's terms in
      // order; OpenBLAS rounds by its call shape): kernel_rows_exact.
      constexpr std::size_t kFirstAheadSteps = 32;
      std::vector<std::size_t> ahead_ends;  // positions in loop order where each block ends
      if (!GradMode::enabled() && !inference_steps && !input_mask.defined() && block >= steps &&
          parallel::workers() > 0 && !parallel::on_worker() && steps > kFirstAheadSteps &&
          kernel_rows_exact(steps * batch, p.weight_ih)) {
        for (std::size_t end = kFirstAheadSteps, size = kFirstAheadSteps;
             ahead_ends.empty() || ahead_ends.back() < steps; end += size, size *= 2) {
          ahead_ends.push_back(std::min(end, steps));
        }
      }
      // Loop positions [begin, end) are these steps' first: the same steps
      // for direction 0, their mirror (steps in reverse) for direction 1.
      auto first_step_of = [&](std::size_t begin, std::size_t end) { return d == 0 ? begin : steps - end; };
      auto project_ahead = [&](parallel::WorkAhead& ahead) {
        const NoGradGuard no_grad;                           // this thread's mode, as the caller's
        const PackedWeightsGuard<T> packed_ih(p.weight_ih);  // packed once for the blocks
        std::size_t begin = ahead_ends[0];
        for (std::size_t j = 1; j < ahead_ends.size() && !ahead.cancelled(); ++j) {
          const std::size_t end = ahead_ends[j];
          project(first_step_of(begin, end), end - begin);
          ahead.publish(end);
          begin = end;
        }
      };
      std::optional<parallel::WorkAhead> ahead;
      if (!ahead_ends.empty()) {
        ahead.emplace(project_ahead);
        // The first block here, while the worker wakes and projects the rest.
        project(first_step_of(0, ahead_ends[0]), ahead_ends[0]);
      }
      const BasicTensor<T> gru_bias_hh = kind_ == CellKind::GRU ? p.bias_hh : BasicTensor<T>();
      State<T> state{h0.defined() ? select(h0, 0, index) : zeros, {}};
      if (kind_ == CellKind::LSTM) state.c = c0.defined() ? select(c0, 0, index) : zeros;
      const BasicTensor<T> recurrent_mask =
          training && o.recurrent_dropout > 0
              ? dropout_mask<T>({batch, hidden}, o.recurrent_dropout, default_generator())
              : BasicTensor<T>();
      std::vector<BasicTensor<T>> outputs(steps);
      // (G*H, F + H): the inference step's weight.
      const BasicTensor<T> weight_cat = inference_steps ? concat<T>({p.weight_ih, p.weight_hh}, 1) : BasicTensor<T>();
      // The recurrent weight is constant over the loop: every step's
      // product reads one packed copy.
      const PackedWeightsGuard<T> packed_weight(inference_steps ? weight_cat : p.weight_hh);
      for (std::size_t k = 0; k < steps; ++k) {
        const std::size_t t = d == 0 ? k : steps - 1 - k;
        const BasicTensor<T> h_in = recurrent_mask.defined() ? mask(state.h, recurrent_mask) : state.h;
        State<T> next;
        if (inference_steps) {
          next = cell_from_gates(kind_, linear(concat<T>({step_slices[t], h_in}, 1), weight_cat, bias), state);
        } else {
          if (ahead) {
            if (k >= ahead_ends[0]) ahead->wait_for(k + 1);  // the worker's blocks
          } else if (!step_inputs[t].defined()) {
            project_block_of(t);
          }
          next = cell_step(kind_, std::move(step_inputs[t]), h_in, state, p.weight_hh, gru_bias_hh);
        }
        if (!running.empty()) {
          // Finished sequences keep their state; their outputs are zero.
          next.h = where(running[t], next.h, state.h);
          if (kind_ == CellKind::LSTM) next.c = where(running[t], next.c, state.c);
          outputs[t] = mask(next.h, running[t]);
        } else {
          outputs[t] = next.h;
        }
        state = next;
      }
      if (keep_steps) {
        *last_steps = std::move(outputs);
      } else {
        direction_outputs.push_back(stack(outputs, 0));
      }
      h_final.push_back(state.h);
      if (kind_ == CellKind::LSTM) c_final.push_back(state.c);
    }
    if (keep_steps) break;  // the last layer: no dropout after it
    layer_input = dirs == 1 ? direction_outputs[0] : concat(direction_outputs, 2);
    if (training && o.dropout > 0 && layer + 1 < o.num_layers) {
      layer_input = mask(layer_input, dropout_mask<T>(layer_input.shape(), o.dropout, default_generator()));
    }
  }
  RecurrentOutput<T> out;
  if (!last_steps || last_steps->empty()) out.output = layer_input;
  out.h_n = stack(h_final, 0);
  if (kind_ == CellKind::LSTM) out.c_n = stack(c_final, 0);
  return out;
}

template <class T>
RecurrentCell<T>::RecurrentCell(CellKind kind, std::size_t input_size, std::size_t hidden_size, bool bias)
    : kind_(kind), input_size_(input_size), hidden_size_(hidden_size) {
  if (input_size == 0 || hidden_size == 0) {
    throw std::invalid_argument(type_name() + ": input_size and hidden_size must be positive");
  }
  const std::size_t gh = gate_count(kind) * hidden_size;
  weight_ih = this->register_parameter("weight_ih", BasicTensor<T>::zeros({gh, input_size}));
  weight_hh = this->register_parameter("weight_hh", BasicTensor<T>::zeros({gh, hidden_size}));
  if (bias) {
    bias_ih = this->register_parameter("bias_ih", BasicTensor<T>::zeros({gh}));
    bias_hh = this->register_parameter("bias_hh", BasicTensor<T>::zeros({gh}));
  }
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (auto& p : this->parameters()) init::uniform_(p, -bound, bound);
}

template <class T>
std::string RecurrentCell<T>::type_name() const {
  return std::string(kind_name(kind_)) + "Cell";
}

template <class T>
std::pair<BasicTensor<T>, BasicTensor<T>> RecurrentCell<T>::step(const BasicTensor<T>& x, const BasicTensor<T>& h,
                                                                 const BasicTensor<T>& c) {
  const std::string who = type_name();
  if (!x.defined() || x.dim() != 2 || x.size(1) != input_size_) {
    throw std::invalid_argument(who + ": expected input (batch, " + std::to_string(input_size_) + "), got shape " +
                                (x.defined() ? shape_to_string(x.shape()) : "undefined"));
  }
  const Shape state_shape{x.size(0), hidden_size_};
  if (h.defined()) check_shape(who, "h", h.shape(), state_shape);
  if (c.defined()) {
    if (kind_ != CellKind::LSTM) throw std::invalid_argument(who + ": c is only for LSTMCell");
    check_shape(who, "c", c.shape(), state_shape);
  }
  const BasicTensor<T> zeros = BasicTensor<T>::zeros(state_shape);
  State<T> state{h.defined() ? h : zeros, {}};
  if (kind_ == CellKind::LSTM) state.c = c.defined() ? c : zeros;
  BasicTensor<T> x_proj = linear(x, weight_ih, projection_bias(kind_, bias_ih, bias_hh));
  State<T> next = cell_step(kind_, std::move(x_proj), state.h, state, weight_hh,
                            kind_ == CellKind::GRU ? bias_hh : BasicTensor<T>());
  return {next.h, next.c};
}

template class Recurrent<float>;
template class Recurrent<double>;
template class RecurrentCell<float>;
template class RecurrentCell<double>;

}  // namespace xgrad::nn
