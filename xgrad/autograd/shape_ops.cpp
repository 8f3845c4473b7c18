// Shape ops: each forward sits next to its derivative rule. A contiguous
// row-major tensor is viewed as (outer, n, inner) around the axis an op
// works on, so every op is a few block copies.
#include "xgrad/autograd/shape_ops.hpp"

#include <algorithm>
#include <cstring>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>

#include "xgrad/autograd/detail/gradient_target.hpp"
#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/detail/row_copy.hpp"
#include "xgrad/autograd/detail/unshared_value.hpp"
#include "xgrad/autograd/function.hpp"

namespace xgrad {

namespace {

// Zeroes rows [start, start+len) of each outer block of a (outer, n, inner) buffer.
template <class T>
void zero_rows(T* dst, std::size_t n, std::size_t start, std::size_t len, std::size_t outer, std::size_t inner) {
  for (std::size_t o = 0; o < outer; ++o) std::fill_n(dst + (o * n + start) * inner, len * inner, T(0));
}

// The forward copies of concat, stack and index_select on both cores: fn(p)
// for p in [0, pieces), where each piece writes its own part of a fresh
// output of `elements` values (a whole sequence's outputs for stack, an
// embedding lookup). Small copies stay on the calling thread
// (for_each_piece's size test).
template <class F>
void copy_pieces(std::size_t pieces, std::size_t elements, F&& fn) {
  parallel::for_each_piece(pieces, 2 * elements, fn);
}

// [0, count) cut into one range per thread: range p is [p * per, min(count, (p + 1) * per)).
std::size_t per_thread_range(std::size_t count) {
  const std::size_t parts = std::min<std::size_t>(std::max<std::size_t>(count, 1), parallel::workers() + 1);
  return (count + parts - 1) / parts;
}

// t's shape, not copied: concat and stack check every input's, once per
// step in a recurrent loop, where a Shape copy each was a heap allocation.
template <class T>
const typename xt::xarray<T>::shape_type& shape_ref(const BasicTensor<T>& t) {
  if (!t.defined()) (void)t.shape();  // throws, naming the undefined tensor
  return t.node()->gradient_shape();
}

// The inputs of a rule that only writes their gradients (concat, stack),
// as gradient targets (Note [gradient targets]); none if nothing records.
template <class T>
std::vector<detail::GradientTarget<T>> gradient_targets(const detail::RecordInputs& inputs,
                                                        const std::vector<BasicTensor<T>>& tensors) {
  std::vector<detail::GradientTarget<T>> targets;
  if (!inputs) return targets;
  targets.reserve(tensors.size());
  for (const auto& t : tensors) targets.emplace_back(t);
  return targets;
}

// Where piece k of `sizes` starts along the split axis: k * sizes[0] when
// every piece but the last has one size (chunk, unbind; no allocation), a
// prefix sum otherwise. Keeps a reference to `sizes`.
class PieceStarts {
 public:
  explicit PieceStarts(const std::vector<std::size_t>& sizes)
      : sizes_(sizes),
        uniform_(sizes.size() <= 1 ||
                 std::all_of(sizes.begin(), sizes.end() - 1, [&](std::size_t n) { return n == sizes[0]; })) {
    if (uniform_) return;
    prefix_.assign(sizes.size(), 0);
    for (std::size_t k = 1; k < sizes.size(); ++k) prefix_[k] = prefix_[k - 1] + sizes[k - 1];
  }
  std::size_t operator[](std::size_t k) const { return uniform_ ? k * sizes_[0] : prefix_[k]; }

 private:
  const std::vector<std::size_t>& sizes_;
  bool uniform_;
  std::vector<std::size_t> prefix_;
};

// Consecutive pieces of `sizes` along axis `ax` (without that axis when
// drop_axis, each size then 1), as one record: its rule writes every
// piece's gradient into a's gradient once (a copy into a fresh buffer, no
// zero fill except for pieces that received none), where one narrow per
// piece would zero a's gradient and then add each piece.
//
// `consume`: the caller gave up its handle (unbind(BasicTensor&&)); a's
// value is freed once copied if nothing else can reach it (the rule needs
// only a's gradient).
template <class T>
std::vector<BasicTensor<T>> split_pieces(const char* op, const BasicTensor<T>& a, std::size_t ax,
                                         std::vector<std::size_t> sizes, bool drop_axis, bool consume = false) {
  // Inline shapes and reserved vectors: a recurrent layer splits its gates
  // every time step, and each heap allocation here is one per step.
  const auto& shape = a.value().shape();
  const AxisSplit s = split_at(shape, ax);
  std::vector<BasicTensor<T>> pieces;
  pieces.reserve(sizes.size());
  for (const std::size_t len : sizes) {
    xt::svector<std::size_t, 4> piece_shape(shape.begin(), shape.end());
    piece_shape[ax] = len;
    if (drop_axis) piece_shape.erase(piece_shape.begin() + static_cast<std::ptrdiff_t>(ax));
    pieces.emplace_back(detail::acquire_value<T>(piece_shape));
  }
  // The copies (a whole sequence's input projection for unbind) on both cores.
  const PieceStarts starts(sizes);
  const T* src = a.data();
  parallel::for_each_piece(pieces.size(), a.size(), [&](std::size_t k) {
    detail::move_rows<T, false>(src, s.n, starts[k], pieces[k].mutable_data(), sizes[k], 0, sizes[k], s.outer, s.inner);
  });
  if (consume) {
    xt::xarray<T> unreachable = empty_array<T>();
    detail::take_unshared_value(a, unreachable);
  }
  const auto inputs = requires_grad_any(a);
  if (!inputs || pieces.empty()) return pieces;
  const std::size_t total = s.outer * s.n * s.inner;  // a's size: its value may be gone
  record_multi_output_op<T>(
      op, pieces, inputs, [a, s, total, sizes = std::move(sizes)](const std::vector<const xt::xarray<T>*>& grads) {
        T beta;
        T* ga = detail::gradient_buffer(a, beta);
        if (!ga) return;
        const PieceStarts starts(sizes);
        parallel::for_each_piece(grads.size(), total, [&](std::size_t k) {
          const std::size_t len = sizes[k], at = starts[k];
          if (grads[k] && beta == T(0)) {
            detail::move_rows<T, false>(grads[k]->data(), len, 0, ga, s.n, at, len, s.outer, s.inner);
          } else if (grads[k]) {
            detail::move_rows<T, true>(grads[k]->data(), len, 0, ga, s.n, at, len, s.outer, s.inner);
          } else if (beta == T(0)) {
            zero_rows(ga, s.n, at, len, s.outer, s.inner);
          }
        });
      });
  return pieces;
}

// A view-like op that keeps every element and only changes the shape.
template <class T>
BasicTensor<T> reshaped(const char* op, const BasicTensor<T>& a, const Shape& shape, bool consume = false) {
  const Shape in_shape = a.shape();  // all the rule needs: a's value may be taken below
  xt::xarray<T> out = empty_array<T>();
  if (!consume || !detail::take_unshared_value(a, out)) out = a.value();
  out.reshape(shape);
  return record_op<T>(op, std::move(out), requires_grad_any(a), [a, in_shape](const xt::xarray<T>& g) {
    xt::xarray<T> ga = g;
    ga.reshape(in_shape);
    accumulate_grad(a, std::move(ga));
  });
}

// The shape reshape(a, shape) gives, -1 inferred; throws unless it holds
// a's element count.
template <class T>
Shape reshape_target(const BasicTensor<T>& a, const std::vector<std::ptrdiff_t>& shape) {
  Shape out(shape.size());
  std::size_t known = 1;
  std::ptrdiff_t inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) throw_op_error("reshape", "only one dimension can be -1");
      inferred = static_cast<std::ptrdiff_t>(i);
    } else if (shape[i] < 0) {
      throw_op_error("reshape", "negative dimension " + std::to_string(shape[i]));
    } else {
      out[i] = static_cast<std::size_t>(shape[i]);
      known *= out[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || a.size() % known != 0) {
      throw_op_error("reshape", "cannot infer -1 for " + std::to_string(a.size()) + " elements from shape " +
                                    shape_to_string(a.shape()));
    }
    out[static_cast<std::size_t>(inferred)] = a.size() / known;
    known *= out[static_cast<std::size_t>(inferred)];
  }
  if (known != a.size()) {
    throw_op_error("reshape", "cannot reshape " + shape_to_string(a.shape()) + " (" + std::to_string(a.size()) +
                                  " elements) to " + shape_to_string(out));
  }
  return out;
}

}  // namespace

template <class T>
BasicTensor<T> reshape(const BasicTensor<T>& a, const std::vector<std::ptrdiff_t>& shape) {
  return reshaped("reshape", a, reshape_target(a, shape));
}

template <class T>
BasicTensor<T> reshape(BasicTensor<T>&& a, const std::vector<std::ptrdiff_t>& shape) {
  const BasicTensor<T> consumed = std::move(a);  // the caller's handle is gone either way
  return reshaped("reshape", consumed, reshape_target(consumed, shape), /*consume=*/true);
}

namespace {
// An index into an axis of length n, negative counting from the end; throws
// unless the result lies in [0, n) (or [0, n] with allow_end).
std::size_t axis_index(const char* op, std::ptrdiff_t index, std::size_t ax, const Shape& shape,
                       bool allow_end = false) {
  const auto n = static_cast<std::ptrdiff_t>(shape[ax]);
  const std::ptrdiff_t i = index < 0 ? index + n : index;
  if (i < 0 || i > n || (i == n && !allow_end)) {
    throw_op_error(op, "index " + std::to_string(index) + " is out of range for axis " + std::to_string(ax) +
                           " of shape " + shape_to_string(shape));
  }
  return static_cast<std::size_t>(i);
}
}  // namespace

template <class T>
BasicTensor<T> narrow(const BasicTensor<T>& a, std::ptrdiff_t axis, std::ptrdiff_t start_index, std::size_t length) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("narrow", axis, shape.size());
  const std::size_t start = axis_index("narrow", start_index, ax, shape, /*allow_end=*/true);
  if (length > shape[ax] - start) {
    throw_op_error("narrow", "range [" + std::to_string(start) + ", " + std::to_string(start + length) +
                                 ") exceeds axis " + std::to_string(ax) + " of shape " + shape_to_string(shape));
  }
  const AxisSplit s = split_at(shape, ax);
  Shape out_shape = shape;
  out_shape[ax] = length;
  xt::xarray<T> out = detail::acquire_value<T>(out_shape);
  detail::move_rows<T, false>(a.data(), s.n, start, out.data(), length, 0, length, s.outer, s.inner);
  return record_op<T>("narrow", std::move(out), requires_grad_any(a), [a, s, start, length](const xt::xarray<T>& g) {
    if (T* ga = detail::zeroed_gradient_buffer(a))
      detail::move_rows<T, true>(g.data(), length, 0, ga, s.n, start, length, s.outer, s.inner);
  });
}

template <class T>
BasicTensor<T> select(const BasicTensor<T>& a, std::ptrdiff_t axis, std::ptrdiff_t index_in) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("select", axis, shape.size());
  const std::size_t index = axis_index("select", index_in, ax, shape);
  const AxisSplit s = split_at(shape, ax);
  Shape out_shape = shape;
  out_shape.erase(out_shape.begin() + static_cast<std::ptrdiff_t>(ax));
  xt::xarray<T> out = detail::acquire_value<T>(out_shape);
  detail::move_rows<T, false>(a.data(), s.n, index, out.data(), 1, 0, 1, s.outer, s.inner);
  return record_op<T>("select", std::move(out), requires_grad_any(a), [a, s, index](const xt::xarray<T>& g) {
    if (T* ga = detail::zeroed_gradient_buffer(a))
      detail::move_rows<T, true>(g.data(), 1, 0, ga, s.n, index, 1, s.outer, s.inner);
  });
}

template <class T>
BasicTensor<T> slice(const BasicTensor<T>& a, std::ptrdiff_t axis, std::ptrdiff_t start_in, std::ptrdiff_t end_in,
                     std::size_t step) {
  if (step == 0) throw_op_error("slice", "step must be at least 1");
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("slice", axis, shape.size());
  // Python's clamping: out-of-range bounds stop at the axis' ends.
  const auto n = static_cast<std::ptrdiff_t>(shape[ax]);
  const auto clamp = [n](std::ptrdiff_t i) {
    if (i < 0) i = i < -n ? 0 : i + n;
    return static_cast<std::size_t>(std::min(i, n));
  };
  const std::size_t start = clamp(start_in), end = std::max(start, clamp(end_in));
  if (step == 1) return narrow(a, static_cast<std::ptrdiff_t>(ax), static_cast<std::ptrdiff_t>(start), end - start);
  const std::size_t length = (end - start + step - 1) / step;
  const AxisSplit s = split_at(shape, ax);
  Shape out_shape = shape;
  out_shape[ax] = length;
  xt::xarray<T> out = detail::acquire_value<T>(out_shape);
  const T* src = a.data();
  T* dst = out.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t j = 0; j < length; ++j)
      std::copy_n(src + (o * s.n + start + j * step) * s.inner, s.inner, dst + (o * length + j) * s.inner);
  return record_op<T>("slice", std::move(out), requires_grad_any(a),
                      [a, s, start, step, length](const xt::xarray<T>& g) {
                        T* ga = detail::zeroed_gradient_buffer(a);
                        if (!ga) return;
                        const T* gs = g.data();
                        for (std::size_t o = 0; o < s.outer; ++o)
                          for (std::size_t j = 0; j < length; ++j) {
                            T* row = ga + (o * s.n + start + j * step) * s.inner;
                            const T* grow = gs + (o * length + j) * s.inner;
                            for (std::size_t k = 0; k < s.inner; ++k) row[k] += grow[k];
                          }
                      });
}

template <class T>
std::vector<BasicTensor<T>> split(const BasicTensor<T>& a, const std::vector<std::size_t>& sizes, std::ptrdiff_t axis) {
  const auto& shape = a.value().shape();
  const std::size_t ax = normalize_axis("split", axis, shape.size());
  std::size_t total = 0;
  for (auto s : sizes) total += s;
  if (total != shape[ax]) {
    throw_op_error("split", "sizes add up to " + std::to_string(total) + " but axis " + std::to_string(ax) +
                                " of shape " + shape_to_string(to_shape(shape)) + " has length " +
                                std::to_string(shape[ax]));
  }
  return split_pieces("split", a, ax, sizes, false);
}

namespace {
template <class T>
std::vector<BasicTensor<T>> unbind_pieces(const BasicTensor<T>& a, std::ptrdiff_t axis, bool consume) {
  const auto& shape = a.value().shape();
  const std::size_t ax = normalize_axis("unbind", axis, shape.size());
  return split_pieces("unbind", a, ax, std::vector<std::size_t>(shape[ax], 1), true, consume);
}
}  // namespace

template <class T>
std::vector<BasicTensor<T>> unbind(const BasicTensor<T>& a, std::ptrdiff_t axis) {
  return unbind_pieces(a, axis, false);
}

template <class T>
std::vector<BasicTensor<T>> unbind(BasicTensor<T>&& a, std::ptrdiff_t axis) {
  const BasicTensor<T> consumed = std::move(a);  // the caller's handle is gone either way
  return unbind_pieces(consumed, axis, true);
}

template <class T>
std::vector<BasicTensor<T>> chunk(const BasicTensor<T>& a, std::size_t chunks, std::ptrdiff_t axis) {
  if (chunks == 0) throw_op_error("chunk", "chunks must be positive");
  const std::size_t ax = normalize_axis("chunk", axis, a.dim());
  const std::size_t n = a.value().shape()[ax];
  const std::size_t each = (n + chunks - 1) / chunks;
  std::vector<std::size_t> sizes;
  sizes.reserve(chunks);
  for (std::size_t start = 0; start < n; start += each) sizes.push_back(std::min(each, n - start));
  if (sizes.empty()) sizes.push_back(0);
  return split_pieces("chunk", a, ax, std::move(sizes), false);
}

template <class T>
BasicTensor<T> concat(const std::vector<BasicTensor<T>>& tensors, std::ptrdiff_t axis) {
  if (tensors.empty()) throw_op_error("concat", "needs at least one tensor");
  const auto& first = shape_ref(tensors[0]);
  const std::size_t ax = normalize_axis("concat", axis, first.size());
  typename xt::xarray<T>::shape_type out_shape = first;
  out_shape[ax] = 0;
  xt::svector<std::size_t, 8> offsets;  // of each tensor along the axis
  offsets.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& s = shape_ref(tensors[i]);
    bool ok = s.size() == first.size();
    for (std::size_t d = 0; ok && d < s.size(); ++d) ok = d == ax || s[d] == first[d];
    if (!ok) {
      throw_op_error("concat", "tensor " + std::to_string(i) + " has shape " + shape_to_string(tensors[i].shape()) +
                                   ", incompatible with tensor 0's " + shape_to_string(tensors[0].shape()) +
                                   " along axis " + std::to_string(ax));
    }
    offsets.push_back(out_shape[ax]);
    out_shape[ax] += s[ax];
  }
  const AxisSplit out_split = split_at(out_shape, ax);
  xt::xarray<T> out = detail::acquire_value<T>(out_shape);
  // By ranges of outer blocks (a (B, F + H) concat: rows), each copying
  // its part of every tensor; by tensor when there is one outer block.
  const std::size_t outer = out_split.outer, inner = out_split.inner;
  const std::size_t per = outer > 1 ? per_thread_range(outer) : outer;
  const std::size_t outer_pieces = (outer + per - 1) / per;
  const std::size_t pieces = outer > 1 ? outer_pieces : tensors.size();
  copy_pieces(pieces, out.size(), [&](std::size_t p) {
    const std::size_t o0 = outer > 1 ? p * per : 0, o1 = outer > 1 ? std::min(outer, o0 + per) : outer;
    const std::size_t first = outer > 1 ? 0 : p, last = outer > 1 ? tensors.size() : p + 1;
    for (std::size_t i = first; i < last; ++i) {
      const std::size_t len = tensors[i].size(static_cast<std::ptrdiff_t>(ax));
      detail::move_rows<T, false>(tensors[i].data() + o0 * len * inner, len, 0, out.data() + o0 * out_split.n * inner,
                                  out_split.n, offsets[i], len, o1 - o0, inner);
    }
  });
  const auto inputs = requires_grad_any_of(tensors);
  return record_op<T>("concat", std::move(out), inputs,
                      [targets = gradient_targets(inputs, tensors), offsets, out_split](const xt::xarray<T>& g) {
                        for (std::size_t i = 0; i < targets.size(); ++i) {
                          const std::size_t len =
                              i + 1 < offsets.size() ? offsets[i + 1] - offsets[i] : out_split.n - offsets[i];
                          if (T* gi = detail::zeroed_gradient_buffer(targets[i].tensor()))
                            detail::move_rows<T, true>(g.data(), out_split.n, offsets[i], gi, len, 0, len,
                                                       out_split.outer, out_split.inner);
                        }
                      });
}

template <class T>
BasicTensor<T> stack(const std::vector<BasicTensor<T>>& tensors, std::ptrdiff_t axis) {
  if (tensors.empty()) throw_op_error("stack", "needs at least one tensor");
  const auto& first = shape_ref(tensors[0]);
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    const auto& s = shape_ref(tensors[i]);
    if (!std::equal(s.begin(), s.end(), first.begin(), first.end())) {
      throw_op_error("stack", "tensor " + std::to_string(i) + " has shape " + shape_to_string(tensors[i].shape()) +
                                  " but tensor 0 has " + shape_to_string(tensors[0].shape()));
    }
  }
  const std::size_t ax = normalize_axis("stack", axis, first.size() + 1);
  typename xt::xarray<T>::shape_type out_shape = first;
  out_shape.insert(out_shape.begin() + static_cast<std::ptrdiff_t>(ax), tensors.size());
  const AxisSplit s = split_at(out_shape, ax);
  xt::xarray<T> out = detail::acquire_value<T>(out_shape);
  copy_pieces(tensors.size(), out.size(), [&](std::size_t i) {
    detail::move_rows<T, false>(tensors[i].data(), 1, 0, out.data(), s.n, i, 1, s.outer, s.inner);
  });
  const auto inputs = requires_grad_any_of(tensors);
  return record_op<T>("stack", std::move(out), inputs,
                      [targets = gradient_targets(inputs, tensors), s](const xt::xarray<T>& g) {
                        for (std::size_t i = 0; i < targets.size(); ++i)
                          if (T* gi = detail::zeroed_gradient_buffer(targets[i].tensor()))
                            detail::move_rows<T, true>(g.data(), s.n, i, gi, 1, 0, 1, s.outer, s.inner);
                      });
}

template <class T>
BasicTensor<T> index_select(const BasicTensor<T>& a, const xt::xarray<std::int64_t>& indices, std::ptrdiff_t axis) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("index_select", axis, shape.size());
  const AxisSplit s = split_at(shape, ax);
  const std::size_t count = indices.size();
  std::vector<std::size_t> rows(count);
  for (std::size_t j = 0; j < count; ++j) {
    const std::int64_t r = indices.data()[j];
    if (r < 0 || static_cast<std::size_t>(r) >= s.n) {
      throw_op_error("index_select", "index " + std::to_string(r) + " is out of range [0, " + std::to_string(s.n) +
                                         ") for axis " + std::to_string(ax) + " of shape " + shape_to_string(shape));
    }
    rows[j] = static_cast<std::size_t>(r);
  }
  Shape out_shape(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(ax));
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), shape.begin() + static_cast<std::ptrdiff_t>(ax) + 1, shape.end());
  xt::xarray<T> out = detail::acquire_value<T>(out_shape);
  const std::size_t per = per_thread_range(count);
  copy_pieces(count ? (count + per - 1) / per : 0, out.size(), [&](std::size_t p) {
    for (std::size_t j = p * per; j < std::min(count, (p + 1) * per); ++j)
      detail::move_rows<T, false>(a.data(), s.n, rows[j], out.data(), count, j, 1, s.outer, s.inner);
  });
  return record_op<T>("index_select", std::move(out), requires_grad_any(a),
                      [a, s, rows = std::move(rows)](const xt::xarray<T>& g) {
                        if (T* ga = detail::zeroed_gradient_buffer(a))
                          for (std::size_t j = 0; j < rows.size(); ++j)
                            detail::move_rows<T, true>(g.data(), rows.size(), j, ga, s.n, rows[j], 1, s.outer, s.inner);
                      });
}

template <class T>
BasicTensor<T> unsqueeze(const BasicTensor<T>& a, std::ptrdiff_t axis) {
  Shape shape = a.shape();
  const std::size_t ax = normalize_axis("unsqueeze", axis, shape.size() + 1);
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(ax), 1);
  return reshaped("unsqueeze", a, shape);
}

template <class T>
BasicTensor<T> squeeze(const BasicTensor<T>& a, std::ptrdiff_t axis) {
  Shape shape = a.shape();
  const std::size_t ax = normalize_axis("squeeze", axis, shape.size());
  if (shape[ax] != 1) {
    throw_op_error("squeeze", "axis " + std::to_string(ax) + " of shape " + shape_to_string(shape) + " has length " +
                                  std::to_string(shape[ax]) + ", not 1");
  }
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(ax));
  return reshaped("squeeze", a, shape);
}

template <class T>
BasicTensor<T> flatten(const BasicTensor<T>& a, std::ptrdiff_t start_axis, std::ptrdiff_t end_axis) {
  const Shape shape = a.shape();
  if (shape.empty()) return reshaped("flatten", a, Shape{1});  // torch: a 0-d tensor becomes (1,)
  const std::size_t first = normalize_axis("flatten", start_axis, shape.size());
  const std::size_t last = normalize_axis("flatten", end_axis, shape.size());
  if (first > last) throw_op_error("flatten", "start axis comes after end axis");
  Shape out(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(first));
  std::size_t merged = 1;
  for (std::size_t i = first; i <= last; ++i) merged *= shape[i];
  out.push_back(merged);
  out.insert(out.end(), shape.begin() + static_cast<std::ptrdiff_t>(last) + 1, shape.end());
  return reshaped("flatten", a, out);
}

template <class T>
BasicTensor<T> permute(const BasicTensor<T>& a, const std::vector<std::ptrdiff_t>& axes) {
  const std::size_t rank = a.dim();
  if (axes.size() != rank) {
    throw_op_error("permute", "needs " + std::to_string(rank) + " axes for shape " + shape_to_string(a.shape()) +
                                  ", got " + std::to_string(axes.size()));
  }
  std::vector<std::size_t> perm(rank), inverse(rank, rank);
  for (std::size_t i = 0; i < rank; ++i) {
    perm[i] = normalize_axis("permute", axes[i], rank);
    if (inverse[perm[i]] != rank) throw_op_error("permute", "axis " + std::to_string(axes[i]) + " is repeated");
    inverse[perm[i]] = i;
  }
  xt::xarray<T> out = xt::transpose(a.value(), perm);
  return record_op<T>("permute", std::move(out), requires_grad_any(a),
                      [a, inverse](const xt::xarray<T>& g) { accumulate_grad(a, xt::transpose(g, inverse)); });
}

namespace {
// Checks a gather/scatter index against `shape` (of the tensor indexed):
// same rank, the same length on every axis but `axis`, and every entry in
// [0, shape[axis]). Returns the index's (outer, m, inner) split.
AxisSplit check_gather_index(const char* op, const Shape& shape, std::size_t axis,
                             const xt::xarray<std::int64_t>& index) {
  const Shape is = to_shape(index.shape());
  bool fits = is.size() == shape.size();
  for (std::size_t d = 0; fits && d < is.size(); ++d) fits = d == axis || is[d] == shape[d];
  if (!fits) {
    throw_op_error(op, "index of shape " + shape_to_string(is) + " must match shape " + shape_to_string(shape) +
                           " on every axis but " + std::to_string(axis));
  }
  for (const std::int64_t r : index) {
    if (r < 0 || static_cast<std::size_t>(r) >= shape[axis]) {
      throw_op_error(op, "index " + std::to_string(r) + " is out of range [0, " + std::to_string(shape[axis]) +
                             ") for axis " + std::to_string(axis) + " of shape " + shape_to_string(shape));
    }
  }
  return split_at(is, axis);
}

// For every position p of an (outer, m, inner) index: fn(p, q), q the
// position in the (outer, n, inner) tensor that index[p] points at.
template <class Fn>
void for_each_indexed(const AxisSplit& is, std::size_t n, const std::int64_t* index, Fn&& fn) {
  for (std::size_t o = 0; o < is.outer; ++o)
    for (std::size_t j = 0; j < is.n; ++j)
      for (std::size_t i = 0; i < is.inner; ++i) {
        const std::size_t p = (o * is.n + j) * is.inner + i;
        fn(p, (o * n + static_cast<std::size_t>(index[p])) * is.inner + i);
      }
}
}  // namespace

template <class T>
BasicTensor<T> gather(const BasicTensor<T>& a, std::ptrdiff_t axis, const xt::xarray<std::int64_t>& index) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("gather", axis, shape.size());
  const AxisSplit is = check_gather_index("gather", shape, ax, index);
  const std::size_t n = shape[ax];
  xt::xarray<T> out = detail::acquire_value<T>(index.shape());
  for_each_indexed(is, n, index.data(), [&](std::size_t p, std::size_t q) { out.data()[p] = a.data()[q]; });
  // da[index[p]] += g[p]: a scatter-add.
  return record_op<T>("gather", std::move(out), requires_grad_any(a), [a, is, n, index](const xt::xarray<T>& g) {
    if (T* ga = detail::zeroed_gradient_buffer(a))
      for_each_indexed(is, n, index.data(), [&](std::size_t p, std::size_t q) { ga[q] += g.data()[p]; });
  });
}

template <class T>
BasicTensor<T> scatter_add(const BasicTensor<T>& a, std::ptrdiff_t axis, const xt::xarray<std::int64_t>& index,
                           const BasicTensor<T>& src) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("scatter_add", axis, shape.size());
  const AxisSplit is = check_gather_index("scatter_add", shape, ax, index);
  if (src.shape() != to_shape(index.shape())) {
    throw_op_error("scatter_add", "src of shape " + shape_to_string(src.shape()) + " must have the index's shape " +
                                      shape_to_string(to_shape(index.shape())));
  }
  const std::size_t n = shape[ax];
  xt::xarray<T> out = a.value();
  for_each_indexed(is, n, index.data(), [&](std::size_t p, std::size_t q) { out.data()[q] += src.data()[p]; });
  // da = g; dsrc[p] = g[index[p]]: a gather.
  return record_op<T>(
      "scatter_add", std::move(out), requires_grad_any(a, src), [a, src, is, n, index](const xt::xarray<T>& g) {
        accumulate_grad(a, g);
        if (!src.requires_grad()) return;
        xt::xarray<T> gs = detail::acquire_value<T>(index.shape());
        for_each_indexed(is, n, index.data(), [&](std::size_t p, std::size_t q) { gs.data()[p] = g.data()[q]; });
        accumulate_grad(src, std::move(gs));
      });
}

template <class T>
BasicTensor<T> expand(const BasicTensor<T>& a, const Shape& shape) {
  if (broadcast_shapes("expand", a.shape(), shape) != shape) {
    throw_op_error("expand",
                   "shape " + shape_to_string(a.shape()) + " does not broadcast to " + shape_to_string(shape));
  }
  xt::xarray<T> out = xt::broadcast(a.value(), shape);
  // The broadcast copies' gradients add up in the original.
  return record_op<T>("expand", std::move(out), requires_grad_any(a),
                      [a](const xt::xarray<T>& g) { accumulate_grad_unbroadcast(a, g); });
}

template <class T>
BasicTensor<T> repeat(const BasicTensor<T>& a, const std::vector<std::size_t>& repeats) {
  const Shape shape = a.shape();
  if (repeats.size() != shape.size()) {
    throw_op_error("repeat", "needs one count per axis of shape " + shape_to_string(shape) + ", got " +
                                 std::to_string(repeats.size()));
  }
  // Viewed as (r0, s0, r1, s1, ...): the output broadcasts a over the r axes.
  Shape interleaved, expanded_a, out_shape;
  std::vector<std::size_t> tile_axes;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    tile_axes.push_back(interleaved.size());
    interleaved.insert(interleaved.end(), {repeats[i], shape[i]});
    expanded_a.insert(expanded_a.end(), {1, shape[i]});
    out_shape.push_back(repeats[i] * shape[i]);
  }
  xt::xarray<T> source = a.value();
  source.reshape(expanded_a);
  xt::xarray<T> out = xt::broadcast(source, interleaved);
  out.reshape(out_shape);
  return record_op<T>("repeat", std::move(out), requires_grad_any(a),
                      [a, interleaved, tile_axes, shape](const xt::xarray<T>& g) {
                        xt::xarray<T> gi = g;
                        gi.reshape(interleaved);
                        xt::xarray<T> ga = xt::sum(gi, tile_axes);
                        ga.reshape(shape);
                        accumulate_grad(a, std::move(ga));
                      });
}

template <class T>
BasicTensor<T> one_hot(const xt::xarray<std::int64_t>& indices, std::size_t num_classes) {
  Shape shape = to_shape(indices.shape());
  shape.push_back(num_classes);
  xt::xarray<T> out = xt::zeros<T>(shape);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::int64_t c = indices.data()[i];
    if (c < 0 || static_cast<std::size_t>(c) >= num_classes) {
      throw_op_error("one_hot",
                     "class " + std::to_string(c) + " is out of range [0, " + std::to_string(num_classes) + ")");
    }
    out.data()[i * num_classes + static_cast<std::size_t>(c)] = T(1);
  }
  return BasicTensor<T>(std::move(out));
}

#define XGRAD_INSTANTIATE(T)                                                                                          \
  template BasicTensor<T> reshape(const BasicTensor<T>&, const std::vector<std::ptrdiff_t>&);                         \
  template BasicTensor<T> reshape(BasicTensor<T>&&, const std::vector<std::ptrdiff_t>&);                              \
  template BasicTensor<T> narrow(const BasicTensor<T>&, std::ptrdiff_t, std::ptrdiff_t, std::size_t);                 \
  template BasicTensor<T> slice(const BasicTensor<T>&, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, std::size_t);  \
  template BasicTensor<T> select(const BasicTensor<T>&, std::ptrdiff_t, std::ptrdiff_t);                              \
  template std::vector<BasicTensor<T>> unbind(const BasicTensor<T>&, std::ptrdiff_t);                                 \
  template std::vector<BasicTensor<T>> unbind(BasicTensor<T>&&, std::ptrdiff_t);                                      \
  template std::vector<BasicTensor<T>> chunk(const BasicTensor<T>&, std::size_t, std::ptrdiff_t);                     \
  template std::vector<BasicTensor<T>> split(const BasicTensor<T>&, const std::vector<std::size_t>&, std::ptrdiff_t); \
  template BasicTensor<T> concat(const std::vector<BasicTensor<T>>&, std::ptrdiff_t);                                 \
  template BasicTensor<T> stack(const std::vector<BasicTensor<T>>&, std::ptrdiff_t);                                  \
  template BasicTensor<T> index_select(const BasicTensor<T>&, const xt::xarray<std::int64_t>&, std::ptrdiff_t);       \
  template BasicTensor<T> unsqueeze(const BasicTensor<T>&, std::ptrdiff_t);                                           \
  template BasicTensor<T> squeeze(const BasicTensor<T>&, std::ptrdiff_t);                                             \
  template BasicTensor<T> flatten(const BasicTensor<T>&, std::ptrdiff_t, std::ptrdiff_t);                             \
  template BasicTensor<T> permute(const BasicTensor<T>&, const std::vector<std::ptrdiff_t>&);                         \
  template BasicTensor<T> gather(const BasicTensor<T>&, std::ptrdiff_t, const xt::xarray<std::int64_t>&);             \
  template BasicTensor<T> scatter_add(const BasicTensor<T>&, std::ptrdiff_t, const xt::xarray<std::int64_t>&,         \
                                      const BasicTensor<T>&);                                                         \
  template BasicTensor<T> one_hot(const xt::xarray<std::int64_t>&, std::size_t);                                      \
  template BasicTensor<T> expand(const BasicTensor<T>&, const Shape&);                                                \
  template BasicTensor<T> repeat(const BasicTensor<T>&, const std::vector<std::size_t>&);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
