#pragma once
// Sequence data for forecasting: the lab L2 sine wave and sliding windows that
// turn a series into (inputs, next-value targets) pairs.
//
// Layout: a series is (T,) for one feature or (T, F) for F features, time
// first. Windows are batch-first (S, window, F); DataLoader can hand them out
// time-major.

#include <cstddef>

// xstorage completes xt::uvector, which the xt::xarray alias needs even in declarations.
#include <xtensor/xstorage.hpp>
#include <xtensor/xtensor_forward.hpp>

namespace xgrad::data {

// Lab L2's data: np.sin(np.linspace(start, stop, n)), computed in double and
// stored as float. Shape (n,). linspace includes `stop` (point i is
// start + i * (stop - start) / (n - 1), the last point is exactly `stop`).
xt::xarray<float> sine_wave(std::size_t n = 1000, double start = 0.0, double stop = 100.0);

// The number of windows a series of `length` steps yields:
// length - window - horizon + 1, or 0 when the series is too short.
std::size_t window_count(std::size_t length, std::size_t window, std::size_t horizon = 1);

// Sliding windows over `series` (T,) or (T, F): sample s holds steps
// s .. s + window - 1. Shape (S, window, F) with S = window_count(T, window,
// horizon) (F = 1 for a 1-D series). Throws std::invalid_argument when the
// series is not 1-D/2-D, window or horizon is 0, or S would be 0.
xt::xarray<float> window_inputs(const xt::xarray<float>& series, std::size_t window, std::size_t horizon = 1);

// The target of each window: the value `horizon` steps after the window's
// last step, i.e. series[s + window - 1 + horizon]. Shape (S, F), rows aligned
// with window_inputs(series, window, horizon). Same errors as window_inputs.
xt::xarray<float> window_targets(const xt::xarray<float>& series, std::size_t window, std::size_t horizon = 1);

}  // namespace xgrad::data
