#pragma once
// FunctionRef<R(Args...)>: a non-owning reference to a callable, for
// parameters that are called during the call and never stored past it
// (fork-join bodies). Unlike std::function it never allocates: a lambda
// capturing a few references by [&] is past std::function's inline
// buffer, and fork-joins run several times per time step.

#include <type_traits>
#include <utility>

namespace xgrad {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  // Refers to f, which must outlive every call through this reference.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f) noexcept  // NOLINT: implicit, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace xgrad
