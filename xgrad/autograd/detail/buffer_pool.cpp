#include "xgrad/autograd/detail/buffer_pool.hpp"

#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define XGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XGRAD_ASAN 1
#endif
#endif
#ifdef XGRAD_ASAN
#include <sanitizer/asan_interface.h>
#endif

#include <cstdlib>
#include <optional>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/detail/parallel.hpp"

namespace xgrad::detail {

namespace {

// Enough for the gradients one recurrent step releases before the next
// step asks (gates, states, their products), with room for two directions.
constexpr std::size_t kSlots = 16;
constexpr std::size_t kMinElements = 1024;

template <class T>
std::vector<xt::xarray<T>>& slots() {
  thread_local std::vector<xt::xarray<T>> pool = [] {
    std::vector<xt::xarray<T>> v;
    v.reserve(kSlots);
    return v;
  }();
  return pool;
}

// A pooled value's elements are poisoned for AddressSanitizer while the
// value waits in the pool: a read through a dangling pointer to a dropped
// value is reported as it would be after free, not served from the next
// tensor's buffer.
template <class T>
void set_pooled(const xt::xarray<T>& value, bool pooled) {
#ifdef XGRAD_ASAN
  if (pooled) {
    ASAN_POISON_MEMORY_REGION(value.data(), value.size() * sizeof(T));
  } else {
    ASAN_UNPOISON_MEMORY_REGION(value.data(), value.size() * sizeof(T));
  }
#else
  (void)value;
  (void)pooled;
#endif
}

// Note [value pool]. Sixteen covers a step's values in both directions of
// a layer; 256 KB each covers a (64, 512) gate block and bounds what a
// thread's pool keeps to 4 MiB.
constexpr std::size_t kValueSlots = 16;
constexpr std::size_t kMaxValueBytes = 256 * 1024;

// A thread's value pool. `destroyed` outlives it (trivially destructible):
// a tensor destroyed after the thread's pool (a static one, at exit) frees
// its value itself.
template <class T>
struct ValuePool {
  std::vector<xt::xarray<T>> values;
  ValuePool() { values.reserve(kValueSlots); }
  ~ValuePool() {
    destroyed = true;
    for (const auto& v : values) set_pooled(v, false);
  }
  static thread_local bool destroyed;
};
template <class T>
thread_local bool ValuePool<T>::destroyed = false;

template <class T>
ValuePool<T>* value_pool() {
  if (ValuePool<T>::destroyed) return nullptr;
  thread_local ValuePool<T> pool;
  return &pool;
}

template <class S>
std::size_t element_count(const S& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

// Takes from `pool` an array of the same element count as `shape`, the most
// recently released first (likely in cache), reshaped (no reallocation);
// none if there is none. Swapped with the last, not erased: an erase
// moves every later array (shape, strides and all), a measurable part of a
// recurrent step.
template <class T, class S>
std::optional<xt::xarray<T>> take_same_size(std::vector<xt::xarray<T>>& pool, const S& shape) {
  const std::size_t n = element_count(shape);
  for (std::size_t i = pool.size(); i-- > 0;) {
    if (pool[i].size() != n) continue;
    if (i + 1 != pool.size()) std::swap(pool[i], pool.back());
    std::optional<xt::xarray<T>> taken(std::move(pool.back()));
    pool.pop_back();
    taken->resize(shape);
    return taken;
  }
  return std::nullopt;
}

}  // namespace

template <class T, class S>
xt::xarray<T> acquire_buffer(const S& shape) {
  if (element_count(shape) >= kMinElements) {
    if (auto buffer = take_same_size(slots<T>(), shape)) return std::move(*buffer);
  }
  return xt::empty<T>(shape);
}

template <class T>
void release_buffer(xt::xarray<T>&& buffer) {
  if (buffer.size() < kMinElements || parallel::on_worker()) return;  // freed by the caller's reset
  auto& pool = slots<T>();
  if (pool.size() == kSlots) pool.erase(pool.begin());  // drop about the oldest
  pool.push_back(std::move(buffer));
}

template <class T, class S>
xt::xarray<T> acquire_value(const S& shape) {
  const std::size_t bytes = element_count(shape) * sizeof(T);
  if (bytes > 0 && bytes <= kMaxValueBytes) {
    if (ValuePool<T>* pool = value_pool<T>()) {
      if (auto value = take_same_size(pool->values, shape)) {
        set_pooled(*value, false);
        return std::move(*value);
      }
    }
  }
  return xt::empty<T>(shape);
}

template <class T>
void release_value(xt::xarray<T>&& value) {
  const std::size_t n = value.size();
  if (n == 0 || n * sizeof(T) > kMaxValueBytes) return;  // freed by the caller
  ValuePool<T>* pool = value_pool<T>();
  if (!pool) return;
  auto& values = pool->values;
  set_pooled(value, true);
  if (values.size() == kValueSlots) {
    set_pooled(values.front(), false);  // handed back to malloc whole
    values.front() = std::move(value);  // drops the value there (about the oldest)
  } else {
    values.push_back(std::move(value));
  }
}

// Tensors of 128 KiB and more are, by glibc's default, allocated with mmap
// and returned to the kernel on free, so every op's output pays page faults
// on fresh zeroed pages (with perf, the larger part of a training step on
// 64x512 tensors; bench/RESULTS.md). Keeping such blocks in the heap lets the next op reuse
// them. XGRAD_KEEP_MALLOC_DEFAULTS=1 leaves glibc's settings alone.
void keep_large_blocks_in_heap() {
  static const bool done = [] {
    if (std::getenv("XGRAD_KEEP_MALLOC_DEFAULTS")) return true;
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    // 32 MiB is glibc's largest mmap threshold, and a (T, B, 4H) gate
    // projection can be larger (sine's is 38 MB, which would be page-faulted
    // afresh each step). Serve every block from the heap.
    mallopt(M_MMAP_MAX, 0);
    return true;
  }();
  (void)done;
}

#define XGRAD_INSTANTIATE(T)                                                    \
  template xt::xarray<T> acquire_buffer<T>(const xt::svector<std::size_t, 4>&); \
  template xt::xarray<T> acquire_buffer<T>(const std::vector<std::size_t>&);    \
  template void release_buffer<T>(xt::xarray<T> &&);                            \
  template xt::xarray<T> acquire_value<T>(const xt::svector<std::size_t, 4>&);  \
  template xt::xarray<T> acquire_value<T>(const std::vector<std::size_t>&);     \
  template void release_value<T>(xt::xarray<T> &&);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::detail
