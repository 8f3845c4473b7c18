#pragma once
// How xtensor is configured wherever xgrad is used: in xgrad's own sources
// and in every consumer. The xgrad::xgrad CMake target (and xgrad.pc)
// force-include this header (-include) ahead of everything, and
// xgrad/autograd/tensor.hpp includes it too.
//
// Note [one xarray type, whatever the -march]: xtensor's elementwise
// expressions (exp, tanh, the gate arithmetic) are several times faster with
// XTENSOR_USE_XSIMD (bench/RESULTS.md), but by default that macro also makes xt::xarray's
// allocator xsimd::aligned_allocator<T, A> with A taken from -march (16, 32
// or 64): the type in xgrad's API would depend on flags a consumer cannot
// guess. So the alignment is fixed at 64 bytes (enough for AVX-512, and
// aligned for every narrower instruction set): xt::xarray<T> is the same type
// in the library and in any consumer, whatever either's -march.
//
// The alignment is also what keeps results bit-identical from run to run:
// xtensor computes the unaligned head of a buffer element by element and the
// rest with SIMD, whose exp and tanh round differently; with every buffer
// aligned there is no head, whatever address the allocator returned.
//
// What remains: an xtensor template instantiated in xgrad and in a consumer
// built for another instruction set has two bodies under one name, and the
// linker keeps one; both compute the same function (exp and tanh may differ
// in the last bit). A program runs where its most specific -march does.
#ifdef XTENSOR_CONFIG_HPP
#ifndef XGRAD_XTENSOR_CONFIGURED
#error \
    "xtensor was included before xgrad/xtensor_config.hpp: link the xgrad::xgrad target (it force-includes it) or include <xgrad/...> headers first"
#endif
#endif
#ifndef XGRAD_XTENSOR_CONFIGURED
#define XGRAD_XTENSOR_CONFIGURED
#define XTENSOR_USE_XSIMD
#define XTENSOR_DEFAULT_ALIGNMENT 64
#define XTENSOR_DEFAULT_ALLOCATOR(T) xsimd::aligned_allocator<T, XTENSOR_DEFAULT_ALIGNMENT>
// GCC 12's AVX-512 intrinsics initialize a variable from itself (`__m512i
// __Y = __Y;`), which -Wmaybe-uninitialized reports wherever xsimd's
// kernels get inlined into user code built with -march=native (a compiler
// bug, fixed in GCC 13). The diagnostic state is tracked by source location,
// so silencing it around the first include of the intrinsics headers
// silences exactly those lines and nothing in user code.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop
#else
#include <xsimd/xsimd.hpp>
#endif
#endif
