#pragma once
// InlineFunction: a move-only `void()` callable that stores callables of up
// to `kInlineBytes` inside itself, so handing one over allocates nothing
// (std::function allocates for anything past two pointers). Larger
// callables go to the heap. Used for the worker's job queue: backward
// queues a weight-gradient job every time step.

#include <cstddef>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace xgrad {

class InlineFunction {
 public:
  static constexpr std::size_t kInlineBytes = 192;

  InlineFunction() = default;

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, InlineFunction>>>
  InlineFunction(F&& f) {  // NOLINT: implicit, like std::function
    using Fn = std::decay_t<F>;
    if constexpr (fits_inline<Fn>) {
      new (storage_) Fn(std::forward<F>(f));
      ops_ = &inline_ops<Fn>;
    } else {
      new (storage_) Fn*(new Fn(std::forward<F>(f)));
      ops_ = &heap_ops<Fn>;
    }
  }

  // True if a callable of type Fn is stored inline (no allocation).
  template <class Fn>
  static constexpr bool fits_inline =
      sizeof(Fn) <= kInlineBytes &&
      alignof(Fn) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<Fn>;

  InlineFunction(InlineFunction&& other) noexcept { take(other); }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  InlineFunction(const InlineFunction&) = delete;
  InlineFunction& operator=(const InlineFunction&) = delete;
  ~InlineFunction() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  // Calling an empty InlineFunction is a logic error (as std::function's).
  void operator()() {
    if (!ops_) throw std::logic_error("InlineFunction: called while empty");
    ops_->call(storage_);
  }

  void reset() {
    if (ops_) ops_->destroy(storage_);
    ops_ = nullptr;
  }

 private:
  struct Ops {
    void (*call)(void*);
    void (*destroy)(void*);
    void (*move)(void* to, void* from);  // move-constructs, then destroys `from`
  };
  template <class Fn>
  static constexpr Ops inline_ops = {[](void* p) { (*static_cast<Fn*>(p))(); },
                                     [](void* p) { static_cast<Fn*>(p)->~Fn(); },
                                     [](void* to, void* from) {
                                       new (to) Fn(std::move(*static_cast<Fn*>(from)));
                                       static_cast<Fn*>(from)->~Fn();
                                     }};
  template <class Fn>
  static constexpr Ops heap_ops = {[](void* p) { (**static_cast<Fn**>(p))(); },
                                   [](void* p) { delete *static_cast<Fn**>(p); },
                                   [](void* to, void* from) { new (to) Fn*(*static_cast<Fn**>(from)); }};

  void take(InlineFunction& other) {
    ops_ = other.ops_;
    if (ops_) ops_->move(storage_, other.storage_);
    other.ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace xgrad
