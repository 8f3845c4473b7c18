#pragma once
// Row copies between (outer, n, inner) views of contiguous buffers, the
// kernel behind slicing, concatenation and axis swaps.

#include <cstddef>
#include <cstring>

namespace xgrad::detail {

// Copies (or adds) rows [src_start, src_start+len) of each outer block of a
// (outer, src_n, inner) buffer into rows [dst_start, ...) of a
// (outer, dst_n, inner) buffer.
template <class T, bool Add>
inline void move_rows(const T* src, std::size_t src_n, std::size_t src_start, T* dst, std::size_t dst_n,
                      std::size_t dst_start, std::size_t len, std::size_t outer, std::size_t inner) {
  const std::size_t count = len * inner;
  // An empty slice's buffers may be null, and memcpy(nullptr, _, 0) is
  // undefined behaviour even though it copies nothing.
  if (count == 0) return;
  for (std::size_t o = 0; o < outer; ++o) {
    const T* s = src + (o * src_n + src_start) * inner;
    T* d = dst + (o * dst_n + dst_start) * inner;
    if constexpr (Add) {
      for (std::size_t i = 0; i < count; ++i) d[i] += s[i];
    } else {
      std::memcpy(d, s, count * sizeof(T));
    }
  }
}

}  // namespace xgrad::detail
