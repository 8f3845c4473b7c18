#pragma once
// A small per-thread pool of gradient buffers. In backpropagation through
// time every step drops gradients (an op's output gradient, once its rule
// ran) and asks for new ones of the same few shapes (the next step's gate
// and state gradients); recycling them removes those heap allocations and
// hands out buffers that are still in cache.
//
// Bounded on purpose: it keeps at most kSlots buffers (the most recently
// released), so memory that a pool of every freed size would pin stays with
// malloc. Buffers below kMinElements are not pooled (malloc serves them
// from its own caches). Worker threads do not pool: they never ask for
// gradient buffers, and a buffer released there would never be reused.
//
// Internal to autograd/ (the tape and detail/gradient_buffers.hpp).

#include <cstddef>

#include <xtensor/xarray.hpp>

namespace xgrad::detail {

// An uninitialized array of `shape`: a pooled buffer of the same number of
// elements (reshaped) if there is one, a new one otherwise.
template <class T, class S>
xt::xarray<T> acquire_buffer(const S& shape);

// Gives a no longer needed buffer to the calling thread's pool (or frees it).
template <class T>
void release_buffer(xt::xarray<T>&& buffer);

// Note [value pool]: forward values recycled per thread. An op's output
// is an aligned heap block (posix_memalign, which glibc serves without its
// per-thread cache), and a recurrent loop drops and asks for the same few
// sizes every step: gates, states, their concat (at batch 1, allocation
// was a sixth of the calling thread's time). A node's destructor gives its
// value to the pool of the thread it dies on, and ops take their outputs
// from it: an uninitialized array of the same element count, reshaped.
// Bounded on purpose: at most kValueSlots values of at most kMaxValueBytes
// each (larger ones go back to malloc), the most recently released first
// (likely in cache). Every thread pools, workers included: the halves of
// a batch (Note [batch parts]) run their loops there.
template <class T, class S>
xt::xarray<T> acquire_value(const S& shape);

// Gives a dropped value to the calling thread's value pool (or frees it).
template <class T>
void release_value(xt::xarray<T>&& value);

// Allocation policy, applied once per process by the first tensor: large
// blocks stay in malloc's heap instead of mmap (see buffer_pool.cpp).
void keep_large_blocks_in_heap();

}  // namespace xgrad::detail
