// fused_pointwise: the shape checks, the passes over rows and the record;
// the per-element math is the caller's function (xgrad/autograd/pointwise.hpp).
#include "xgrad/autograd/pointwise.hpp"

#include <algorithm>
#include <array>
#include <string>

#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/function.hpp"

namespace xgrad::detail {

namespace {

constexpr std::size_t kMaxInputs = 8, kMaxOutputs = 4;

// One input as the kernels see it: a (rows, cols) view of `tensor` whose
// row r starts at offset + r * stride.
template <class T>
struct InputView {
  BasicTensor<T> tensor;
  std::size_t offset = 0, stride = 0;
};

// The (rows, cols) iteration space: rows of `cols` contiguous elements in
// every input and output. When every input is contiguous, the whole tensor
// is one row (split between threads by columns).
struct Grid {
  std::size_t rows = 1, cols = 1;
};

// Calls fn(row, col, len) over pieces of the grid spread over the threads;
// `arrays`: how many arrays of the grid's size a piece reads and writes (the
// size test of the fork-join counts elements touched).
template <class F>
void for_grid(const Grid& grid, std::size_t arrays, F&& fn) {
  if (grid.rows * grid.cols == 0) return;
  const std::size_t total = grid.rows * grid.cols * arrays;
  const std::size_t parts = static_cast<std::size_t>(parallel::workers()) + 1;
  if (grid.rows == 1) {
    const std::size_t piece = ((grid.cols + parts - 1) / parts + 15) / 16 * 16;
    parallel::for_each_piece((grid.cols + piece - 1) / piece, total, [&](std::size_t p) {
      const std::size_t start = p * piece;
      fn(std::size_t(0), start, std::min(piece, grid.cols - start));
    });
    return;
  }
  const std::size_t rows_per = (grid.rows + parts - 1) / parts;
  parallel::for_each_piece((grid.rows + rows_per - 1) / rows_per, total, [&](std::size_t p) {
    const std::size_t end = std::min(grid.rows, (p + 1) * rows_per);
    for (std::size_t r = p * rows_per; r < end; ++r) fn(r, std::size_t(0), grid.cols);
  });
}

// Where backward writes input k's gradient: gin[k] (nullptr: it needs
// none), added to when add_into[k], else overwritten. Views of one tensor
// share its buffer: a chunk of a fresh buffer is overwritten, and a view
// of elements an earlier view already wrote (the tensor given twice) adds.
template <class T>
void gradient_targets(const InputView<T>* views, std::size_t view_count, T** gin, bool* add_into) {
  // What can throw (a record freed by an earlier backward) is checked for
  // every input before any buffer is taken, so that a throw leaves no
  // fresh, never written gradient behind.
  for (std::size_t k = 0; k < view_count; ++k)
    if (views[k].tensor.requires_grad()) (void)node_for_gradient(views[k].tensor);
  bool buffer_adds[kMaxInputs];  // of a buffer's first view: beta was 1
  std::size_t fresh_nodes = 0;
  TensorNode<T>* fresh[kMaxInputs];
  try {
    for (std::size_t k = 0; k < view_count; ++k) {
      gin[k] = nullptr;
      add_into[k] = false;
      const BasicTensor<T>& t = views[k].tensor;
      if (!t.requires_grad()) continue;
      std::size_t first = k;
      bool region_written = false;
      for (std::size_t e = 0; e < k; ++e) {
        if (views[e].tensor.node() != t.node() || !gin[e]) continue;
        if (first == k) first = e;
        if (views[e].offset == views[k].offset) region_written = true;
      }
      if (first == k) {
        T beta;
        T* buffer = gradient_buffer(t, beta);
        if (!buffer) continue;
        if (beta == T(0)) fresh[fresh_nodes++] = t.node();
        gin[k] = buffer + views[k].offset;
        buffer_adds[k] = beta != T(0);
      } else {
        gin[k] = gin[first] - views[first].offset + views[k].offset;
        buffer_adds[k] = buffer_adds[first];
      }
      add_into[k] = buffer_adds[k] || region_written;
    }
  } catch (...) {
    for (std::size_t i = 0; i < fresh_nodes; ++i) fresh[i]->has_grad = false;  // never written
    throw;
  }
}

template <class T>
std::string describe(const PointwiseInput<T>* inputs, std::size_t given) {
  std::string s;
  for (std::size_t i = 0; i < given; ++i) {
    const PointwiseInput<T>& in = inputs[i];
    if (!s.empty()) s += ", ";
    s += in.tensor.defined() ? shape_to_string(in.tensor.shape()) : std::string("undefined");
    if (in.chunks != 1) s += " in " + std::to_string(in.chunks) + " chunks";
  }
  return s;
}

}  // namespace

template <class T>
void fused_pointwise(const char* name, const PointwiseInput<T>* inputs, std::size_t given, std::size_t input_count,
                     std::size_t output_count, void* fn, PointwiseKernels<T> kernels, BasicTensor<T>* outputs) {
  // Every logical input as a view, and their common shape. Fixed arrays and
  // the nodes' own shapes: under no_grad (a recurrent step at inference)
  // the op allocates only its outputs.
  if (input_count > kMaxInputs || output_count > kMaxOutputs) {
    throw_op_error(name,
                   "at most " + std::to_string(kMaxInputs) + " inputs and " + std::to_string(kMaxOutputs) + " outputs");
  }
  const auto describe_inputs = [&] { return describe(inputs, given); };
  std::array<InputView<T>, kMaxInputs> views;
  std::size_t view_count = 0;
  typename xt::xarray<T>::shape_type shape;
  bool contiguous = true;
  for (std::size_t i = 0; i < given; ++i) {
    const PointwiseInput<T>& in = inputs[i];
    if (!in.tensor.defined()) throw_op_error(name, "an input is undefined (inputs: " + describe_inputs() + ")");
    if (in.chunks == 0) throw_op_error(name, "chunks must be positive (inputs: " + describe_inputs() + ")");
    const auto& s = in.tensor.value().shape();
    const std::size_t last = s.empty() ? 1 : s.back();
    if (in.chunks > 1 && (s.empty() || last % in.chunks != 0)) {
      throw_op_error(name, "cannot cut the last axis into " + std::to_string(in.chunks) +
                               " equal chunks (inputs: " + describe_inputs() + ")");
    }
    const std::size_t cols = last / in.chunks;
    if (i == 0) {
      shape = s;
      if (!shape.empty()) shape.back() = cols;
    }
    const bool same_shape = s.size() == shape.size() &&
                            std::equal(s.begin(), s.end() - (s.empty() ? 0 : 1), shape.begin()) &&
                            (s.empty() || cols == shape.back());
    if (!same_shape) {
      throw_op_error(name, "inputs must have one shape after chunking (no broadcasting), got " + describe_inputs());
    }
    if (in.chunks > 1) contiguous = false;
    for (std::size_t c = 0; c < in.chunks; ++c, ++view_count)
      if (view_count < input_count) views[view_count] = {in.tensor, c * cols, last};
  }
  if (view_count != input_count) {
    throw_op_error(name, "the function takes " + std::to_string(input_count) + " inputs, given " +
                             std::to_string(view_count) + " (" + describe_inputs() + ")");
  }
  Grid grid;
  grid.cols = shape.empty() ? 1 : shape.back();
  for (std::size_t i = 0; i + 1 < shape.size(); ++i) grid.rows *= shape[i];
  if (contiguous) {
    grid = {1, grid.rows * grid.cols};
    for (std::size_t k = 0; k < view_count; ++k) views[k].stride = 0;
  }

  for (std::size_t j = 0; j < output_count; ++j) outputs[j] = BasicTensor<T>(detail::acquire_value<T>(shape));
  {
    const T* in_base[kMaxInputs];
    T* out_base[kMaxOutputs];
    for (std::size_t k = 0; k < input_count; ++k) in_base[k] = views[k].tensor.data() + views[k].offset;
    for (std::size_t j = 0; j < output_count; ++j) out_base[j] = outputs[j].mutable_data();
    for_grid(grid, input_count + output_count, [&](std::size_t r, std::size_t c, std::size_t len) {
      const T* in[kMaxInputs];
      T* out[kMaxOutputs];
      for (std::size_t k = 0; k < input_count; ++k) in[k] = in_base[k] + r * views[k].stride + c;
      for (std::size_t j = 0; j < output_count; ++j) out[j] = out_base[j] + r * grid.cols + c;
      kernels.forward(fn, in, out, len);
    });
  }
  // requires_grad_any_of over the input tensors, without a vector of them per call.
  RecordInputs record_inputs;
  if (GradMode::enabled())
    for (std::size_t i = 0; i < given; ++i) note_input(record_inputs, inputs[i].tensor);
  if (!record_inputs) {
    if (anomaly_mode)
      for (std::size_t j = 0; j < output_count; ++j) check_forward_anomaly(name, outputs[j].value());
    return;
  }

  // Backward reads only the inputs (kept by `views`) and recomputes the
  // function with derivatives from them.
  record_multi_output_op<T>(name, std::vector<BasicTensor<T>>(outputs, outputs + output_count), record_inputs,
                            [views = std::move(views), input_count, grid, fn = kernels.keep(fn), kernels,
                             output_count](const std::vector<const xt::xarray<T>*>& grads) {
                              T* gin_base[kMaxInputs];
                              bool add_into[kMaxInputs];
                              gradient_targets(views.data(), input_count, gin_base, add_into);
                              const T* gout_base[kMaxOutputs];
                              for (std::size_t j = 0; j < output_count; ++j)
                                gout_base[j] = grads[j] ? grads[j]->data() : nullptr;
                              const T* in_base[kMaxInputs];
                              for (std::size_t k = 0; k < input_count; ++k)
                                in_base[k] = views[k].tensor.data() + views[k].offset;
                              for_grid(grid, 2 * input_count + output_count,
                                       [&](std::size_t r, std::size_t c, std::size_t len) {
                                         const T* in[kMaxInputs];
                                         const T* gout[kMaxOutputs];
                                         T* gin[kMaxInputs];
                                         for (std::size_t k = 0; k < input_count; ++k) {
                                           in[k] = in_base[k] + r * views[k].stride + c;
                                           gin[k] = gin_base[k] ? gin_base[k] + r * views[k].stride + c : nullptr;
                                         }
                                         for (std::size_t j = 0; j < output_count; ++j)
                                           gout[j] = gout_base[j] ? gout_base[j] + r * grid.cols + c : nullptr;
                                         kernels.backward(fn.get(), in, gout, gin, add_into, len);
                                       });
                            });
}

template void fused_pointwise(const char*, const PointwiseInput<float>*, std::size_t, std::size_t, std::size_t, void*,
                              PointwiseKernels<float>, BasicTensor<float>*);
template void fused_pointwise(const char*, const PointwiseInput<double>*, std::size_t, std::size_t, std::size_t, void*,
                              PointwiseKernels<double>, BasicTensor<double>*);

}  // namespace xgrad::detail
