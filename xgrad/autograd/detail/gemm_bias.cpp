#include "xgrad/autograd/detail/gemm_bias.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::detail {

namespace {
// Up to 8 blocks of whole rows covering rows [0, m): rows per block and the
// number of blocks, none of them empty (no blocks when m is 0). A fixed
// partition: the sums below come out the same whatever the thread count.
struct RowBlocks {
  std::size_t count = 0, rows = 0;
};
RowBlocks row_blocks(std::size_t m) {
  if (m == 0) return {};
  const std::size_t rows = (m + 7) / 8;
  return {(m + rows - 1) / rows, rows};
}
}  // namespace

// A memcpy per row for the common (N) bias, one memcpy for a full (M, N)
// one; rows in blocks on both cores when C is large (a whole sequence's
// input projection).
template <class T>
void fill_with_bias(T* c, const T* bv, BiasLayout l, std::size_t m, std::size_t n) {
  if (m * n == 0) return;  // an empty buffer may be null, which memcpy must not be given
  const RowBlocks blocks = row_blocks(m);
  parallel::for_each_piece(blocks.count, m * n, [&](std::size_t block) {
    const std::size_t first = block * blocks.rows, last = std::min(m, first + blocks.rows);
    if (l.per_row && l.per_column) {
      std::memcpy(c + first * n, bv + first * n, (last - first) * n * sizeof(T));
    } else if (l.per_column) {
      for (std::size_t i = first; i < last; ++i) std::memcpy(c + i * n, bv, n * sizeof(T));
    } else if (l.per_row) {
      for (std::size_t i = first; i < last; ++i) std::fill_n(c + i * n, n, bv[i]);
    } else {
      std::fill_n(c + first * n, (last - first) * n, bv[0]);
    }
  });
}

template <class T>
void sum_into_bias(T* db, T beta, BiasLayout l, const T* dc, std::size_t m, std::size_t n) {
  if (l.per_row && l.per_column) {
    if (beta == T(0)) {
      if (m * n != 0) std::memcpy(db, dc, m * n * sizeof(T));
    } else {
      for (std::size_t i = 0; i < m * n; ++i) db[i] += dc[i];
    }
  } else if (l.per_column) {
    // Row blocks summed into partial sums, then added in block order.
    const RowBlocks blocks = row_blocks(m);
    std::vector<T> partial(blocks.count * n, T(0));
    parallel::for_each_piece(blocks.count, m * n, [&](std::size_t block) {
      T* acc = partial.data() + block * n;
      for (std::size_t i = block * blocks.rows; i < std::min(m, (block + 1) * blocks.rows); ++i) {
        const T* row = dc + i * n;
        for (std::size_t j = 0; j < n; ++j) acc[j] += row[j];
      }
    });
    if (beta == T(0)) std::fill_n(db, n, T(0));
    for (std::size_t block = 0; block < blocks.count; ++block)
      for (std::size_t j = 0; j < n; ++j) db[j] += partial[block * n + j];
  } else if (l.per_row) {
    for (std::size_t i = 0; i < m; ++i) {
      T acc = T(0);
      for (std::size_t j = 0; j < n; ++j) acc += dc[i * n + j];
      db[i] = beta == T(0) ? acc : db[i] + acc;
    }
  } else {
    T acc = T(0);
    for (std::size_t i = 0; i < m * n; ++i) acc += dc[i];
    db[0] = beta == T(0) ? acc : db[0] + acc;
  }
}

#define XGRAD_INSTANTIATE(T)                                                        \
  template void fill_with_bias(T*, const T*, BiasLayout, std::size_t, std::size_t); \
  template void sum_into_bias(T*, T, BiasLayout, const T*, std::size_t, std::size_t);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::detail
