// The tape: recording, replay, accumulation, freeing, no_grad, threads.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/node.hpp"

using namespace xgrad;

TEST_CASE("backward of a scalar root fills leaf gradients") {
  TensorD x = TensorD::of({1.0, 2.0, 3.0}, true);
  TensorD y = sum(x * x * 3.0);  // dy/dx = 6x
  y.backward();
  CHECK(x.grad() == xt::xarray<double>({6.0, 12.0, 18.0}));
}

TEST_CASE("a tensor used several times accumulates every contribution") {
  TensorD x = TensorD::scalar(2.0, true);
  TensorD y = x * x + x * 3.0 + exp(x) * 0.0 + x;  // dy/dx = 2x + 3 + 1 = 8
  y.backward();
  CHECK(x.grad()() == doctest::Approx(8.0));
}

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad") {
  TensorD x = TensorD::of({1.0, -1.0}, true);
  sum(x * 2.0).backward();
  sum(x * 2.0).backward();
  CHECK(x.grad() == xt::xarray<double>({4.0, 4.0}));
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
  sum(x).backward();
  CHECK(x.grad() == xt::xarray<double>({1.0, 1.0}));
}

TEST_CASE("a non-scalar root needs a seed of its shape") {
  TensorD x = TensorD::of({1.0, 2.0}, true);
  TensorD y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("explicit seed"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(y.backward(TensorD::of({1.0, 1.0, 1.0})), doctest::Contains("seed shape (3,)"),
                       std::invalid_argument);
  y.backward(TensorD::of({1.0, 10.0}));
  CHECK(x.grad() == xt::xarray<double>({2.0, 20.0}));
}

TEST_CASE("backward frees the records; retain_graph keeps them") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0, 2.0}, true);
  TensorD y = sum(exp(x));
  CHECK(Tape::current().size() == 2);
  y.backward(/*retain_graph=*/true);
  CHECK(Tape::current().size() == 2);
  y.backward();
  CHECK(Tape::current().size() == 0);
  CHECK(x.grad()(0) == doctest::Approx(2 * std::exp(1.0)));
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph"), std::logic_error);
}

TEST_CASE("a gradient reaching a freed record is an error, not a silent zero") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0, 2.0}, true);
  TensorD shared = x * 2.0;
  TensorD loss1 = sum(shared);
  TensorD loss2 = sum(shared * shared);
  loss1.backward();  // frees shared's record; loss2's records stay
  CHECK(Tape::current().size() == 2);
  CHECK_THROWS_WITH_AS(loss2.backward(), doctest::Contains("retain_graph"), std::logic_error);
  Tape::current().clear();
}

TEST_CASE("records made after the root stay on the tape") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0}, true);
  TensorD a = sum(x * 2.0);
  TensorD b = sum(x * 5.0);
  a.backward();
  CHECK(x.grad()(0) == 2.0);
  b.backward();
  CHECK(x.grad()(0) == 7.0);
}

TEST_CASE("no_grad records nothing and its outputs need no grad") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0, 2.0}, true);
  {
    NoGradGuard guard;
    TensorD y = exp(x) * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  CHECK(Tape::current().size() == 0);
  TensorD c = TensorD::of({1.0, 2.0});
  TensorD z = exp(c) + c;  // no input requires grad
  CHECK_FALSE(z.requires_grad());
  CHECK(Tape::current().size() == 0);
  CHECK_THROWS_WITH_AS(sum(z).backward(), doctest::Contains("does not require grad"), std::logic_error);
}

TEST_CASE("detach cuts the graph; requires_grad_ only on leaves") {
  TensorD x = TensorD::of({3.0}, true);
  TensorD y = x * x;
  TensorD d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.value()(0) == 9.0);
  TensorD z = sum(d * x);  // only x's direct path: dz/dx = d = 9
  z.backward();
  CHECK(x.grad()(0) == 9.0);
  CHECK_THROWS_AS(y.requires_grad_(false), std::logic_error);
  TensorD w = TensorD::of({1.0});
  w.requires_grad_();
  CHECK(w.requires_grad());
  Tape::current().clear();
}

TEST_CASE("intermediate gradients are dropped unless retain_grad") {
  TensorD x = TensorD::of({1.0, 2.0}, true);
  TensorD h = x * 3.0;
  TensorD kept = x * 4.0;
  kept.retain_grad();
  sum(h + kept).backward();
  CHECK_FALSE(h.has_grad());
  CHECK(kept.grad() == xt::xarray<double>({1.0, 1.0}));
  CHECK(x.grad() == xt::xarray<double>({7.0, 7.0}));
}

// Elementwise rules write the last input's gradient over the output's
// dropped gradient buffer (OutputGradient::adopt_into). These graphs make that
// path meet every case where it must not apply or must not corrupt g.
TEST_CASE("gradients written in place over a dropped output gradient stay exact") {
  SUBCASE("a chain of unary ops: every gradient is the one before, rewritten") {
    TensorD x = TensorD::of({0.5, -1.0, 2.0}, true);
    TensorD y = sum(tanh(sigmoid(x) * 2.0));
    y.backward();
    for (std::size_t i = 0; i < 3; ++i) {
      const double xi = x.value()(i), s = 1.0 / (1.0 + std::exp(-xi)), t = std::tanh(2.0 * s);
      CHECK(x.grad()(i) == doctest::Approx((1 - t * t) * 2.0 * s * (1 - s)).epsilon(1e-12));
    }
  }
  SUBCASE("a binary op whose second input already has a gradient adds, not overwrites") {
    TensorD a = TensorD::of({1.0, 2.0}, true);
    TensorD b = TensorD::of({3.0, 5.0}, true);
    TensorD bb = b * 1.0;                // non-leaf, gets gradients from two ops
    TensorD y = sum(a * bb + bb * 2.0);  // d/db = a + 2
    y.backward();
    CHECK(b.grad() == xt::xarray<double>({3.0, 4.0}));
    CHECK(a.grad() == xt::xarray<double>({3.0, 5.0}));
  }
  SUBCASE("the same tensor as both inputs") {
    TensorD x = TensorD::of({1.5, -2.0}, true);
    TensorD h = x * 1.0;
    sum(h * h).backward();  // 2x
    CHECK(x.grad() == xt::xarray<double>({3.0, -4.0}));
  }
  SUBCASE("an output that retains its gradient keeps it intact") {
    TensorD x = TensorD::of({1.0, 2.0}, true);
    TensorD h = x * 3.0;
    TensorD s = sigmoid(h);
    s.retain_grad();
    sum(s * 4.0).backward();
    CHECK(s.grad() == xt::xarray<double>({4.0, 4.0}));
    const double s0 = 1.0 / (1.0 + std::exp(-3.0)), s1 = 1.0 / (1.0 + std::exp(-6.0));
    CHECK(x.grad()(0) == doctest::Approx(12.0 * s0 * (1 - s0)).epsilon(1e-12));
    CHECK(x.grad()(1) == doctest::Approx(12.0 * s1 * (1 - s1)).epsilon(1e-12));
  }
  SUBCASE("an input that is a leaf: its gradient is the adopted buffer, and accumulates next time") {
    TensorD x = TensorD::of({1.0, 2.0}, true);
    sum(exp(x)).backward();
    sum(exp(x)).backward();
    CHECK(x.grad()(0) == doctest::Approx(2 * std::exp(1.0)).epsilon(1e-12));
    CHECK(x.grad()(1) == doctest::Approx(2 * std::exp(2.0)).epsilon(1e-12));
  }
}

// Gradient buffers dropped in backward are recycled (autograd/buffer_pool):
// a recycled buffer must take its new shape and carry no old values.
TEST_CASE("recycled gradient buffers take the new shape and hold no stale values") {
  // (32, 64) gradients of 7s go back to the pool...
  TensorD a = TensorD::full({32, 64}, 0.5, true);
  sum(mul_scalar(mul_scalar(a, 7.0), 1.0)).backward();
  CHECK(a.grad()(31, 63) == 7.0);
  // ...and a (64, 32) graph asks for buffers of the same element count:
  // narrow's gradient is zero outside the narrowed rows, never old 7s.
  TensorD b = TensorD::full({64, 32}, 0.25, true);
  TensorD picked = narrow(mul_scalar(b, 1.0), 0, 10, 4);  // rows 10..13
  sum(mul_scalar(picked, 3.0)).backward();
  CHECK(b.grad().shape()[0] == 64);
  CHECK(b.grad().shape()[1] == 32);
  double total = 0;
  for (double g : b.grad()) total += g;
  CHECK(total == doctest::Approx(3.0 * 4 * 32));
  CHECK(b.grad()(9, 0) == 0.0);
  CHECK(b.grad()(10, 31) == 3.0);
  CHECK(b.grad()(14, 5) == 0.0);
}

TEST_CASE("two threads record and differentiate independent models at once") {
  auto train = [](double scale, double* out) {
    TensorD w = TensorD::of({1.0, 2.0, 3.0}, true);
    for (int step = 0; step < 200; ++step) {
      TensorD loss = sum(tanh(w * scale) * w);
      loss.backward();
    }
    *out = w.grad()(1);
  };
  double a = 0, b = 0, a_alone = 0;
  std::thread t1(train, 0.5, &a), t2(train, -1.5, &b);
  t1.join();
  t2.join();
  train(0.5, &a_alone);
  CHECK(a == a_alone);
  CHECK(a != b);
}

TEST_CASE("backward on another thread's graph is refused") {
  TensorD x = TensorD::of({1.0}, true);
  TensorD y = sum(x * 2.0);
  std::string message;
  std::thread t([&] {
    try {
      y.backward();
    } catch (const std::exception& e) {
      message = e.what();
    }
  });
  t.join();
  CHECK(message.find("another thread") != std::string::npos);
  Tape::current().clear();
}

TEST_CASE("saved values are released when the tape frees a record") {
  std::weak_ptr<TensorNode<double>> intermediate;
  TensorD x = TensorD::of({1.0, 2.0}, true);
  TensorD loss;
  {
    TensorD h = exp(x);
    intermediate = h.node_ptr();
    loss = sum(h * h);
  }
  CHECK_FALSE(intermediate.expired());  // the tape holds it for backward
  loss.backward();
  CHECK(intermediate.expired());
}

TEST_CASE("a value only gradient targets can reach is freed; a reader or a handle keeps it") {
  // Note [gradient targets]: mask, stack and concat only write their
  // inputs' gradients. y comes from concat, whose rule never reads y.
  const TensorD x = TensorD::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}, true);
  const TensorD m = TensorD::from_vector({4, 3}, {0, 2, 2, 2, 0, 2, 2, 2, 0, 0, 0, 2});
  TensorD out, kept_by_reader, held;
  TensorNode<double>* freed_node = nullptr;
  TensorNode<double>* read_node = nullptr;
  TensorNode<double>* held_node = nullptr;
  {
    TensorD y = concat(std::vector<TensorD>{x, x}, 0);  // (4, 3)
    freed_node = y.node();
    out = stack(std::vector<TensorD>{mask(y, m), y}, 0);  // (2, 4, 3)
    CHECK_FALSE(freed_node->speed.value_taken);           // y still has a handle
    TensorD z = concat(std::vector<TensorD>{x, x}, 0);
    read_node = z.node();
    kept_by_reader = sum(mask(z, m) * z);  // mul's rule reads z
    held = concat(std::vector<TensorD>{x, x}, 0);
    held_node = held.node();
    (void)stack(std::vector<TensorD>{mask(held, m)}, 0);
  }
  CHECK(freed_node->speed.value_taken);
  CHECK(freed_node->value.size() == 0);
  CHECK_FALSE(read_node->speed.value_taken);
  CHECK_FALSE(held_node->speed.value_taken);
  CHECK(held.value()(3, 2) == 6.0);
  // The gradient still flows through the freed node: d/dx of
  // sum(mask(y) + y) with y = [x; x] is (m_top + 1) + (m_bottom + 1).
  sum(out).backward();
  const xt::xarray<double> expected = {{4.0, 6.0, 4.0}, {4.0, 2.0, 6.0}};
  CHECK(x.grad() == expected);
}

TEST_CASE("an output backward did not reach is freed at the next record once its holder drops it") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0, 2.0}, true);
  std::weak_ptr<TensorNode<double>> full_node, state_node;
  {
    TensorD h = exp(x);                                         // a step's state
    TensorD full = stack(std::vector<TensorD>{h, h * 2.0}, 0);  // a layer's full output; the loss reads only h
    full_node = full.node_ptr();
    state_node = h.node_ptr();
    sum(h).backward();
    CHECK_FALSE(full_node.expired());  // `full` is still held here
  }
  CHECK_FALSE(full_node.expired());  // dropped now, but its record still holds it...
  TensorD next = x * 3.0;            // ...until the next record sweeps
  CHECK(full_node.expired());
  CHECK(state_node.expired());  // with what its rule captured
  CHECK(Tape::current().size() == 1);
  Tape::current().clear();
}

TEST_CASE("two graphs recorded interleaved are differentiated one after the other") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0, 2.0}, true), y = TensorD::of({3.0}, true);
  TensorD a = sum(exp(x));       // graph A
  TensorD b = sum(y * y * 2.0);  // graph B, recorded after A
  TensorD a2 = sum(x * 3.0);     // graph A', recorded after B
  b.backward();                  // replays over A's records without consuming them
  a.backward();
  a2.backward();
  CHECK(y.grad()(0) == 12.0);
  CHECK(x.grad()(0) == doctest::Approx(std::exp(1.0) + 3.0));
  CHECK(Tape::current().size() == 0);
}

TEST_CASE("records of a dropped result are swept, not kept until clear()") {
  Tape::current().clear();
  TensorD x = TensorD::of({1.0, 2.0}, true);
  { TensorD unused = sum(exp(x) * 2.0); }  // e.g. an evaluation pass without no_grad
  CHECK(Tape::current().size() == 3);
  sum(x).backward();
  CHECK(Tape::current().size() == 0);
  for (int i = 0; i < 10000; ++i) {
    TensorD dropped = x * 2.0;
  }
  CHECK(Tape::current().size() < 5000);  // swept as the tape grows
  Tape::current().clear();
}

TEST_CASE("detach of an undefined tensor is an undefined tensor; of a defined one, a leaf copy") {
  const Tensor undefined;
  CHECK_FALSE(undefined.detach().defined());
  Tensor x = Tensor::of({1.0f, 2.0f}, true);
  Tensor y = x * 3.0f;
  Tensor d = y.detach();
  CHECK(d.defined());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.value()(1) == 6.0f);
}

TEST_CASE("post-accumulate-grad hooks run once, with the final gradient, as soon as it is final") {
  Tensor a = Tensor::of({1.0f, 2.0f}, true);  // read first: final last
  Tensor b = Tensor::of({3.0f, -1.0f}, true);
  std::vector<std::string> order;
  std::vector<xt::xarray<float>> seen_a;
  a.register_post_accumulate_grad_hook([&](const Tensor& t) {
    order.push_back("a");
    seen_a.push_back(t.grad());
  });
  b.register_post_accumulate_grad_hook([&](const Tensor&) { order.push_back("b"); });
  // a is read by the first and the last op: its hook must wait for both.
  Tensor y = sum(a * a) + sum(tanh(b) * 2.0f) + sum(a * 3.0f);
  y.backward();
  REQUIRE(order == std::vector<std::string>{"b", "a"});
  REQUIRE(seen_a.size() == 1);
  CHECK(xt::allclose(seen_a[0], a.grad()));
  CHECK(a.grad()(0) == doctest::Approx(2 * 1.0f + 3.0f));
  // A backward that gives b no gradient does not call b's hook.
  order.clear();
  sum(a * 2.0f).backward();
  CHECK(order == std::vector<std::string>{"a"});
}

TEST_CASE("a hook waits for an op that did not declare its inputs") {
  Tensor w = Tensor::of({0.5f, -2.0f}, true);
  Tensor x = Tensor::of({1.0f, 1.0f}, true);
  std::vector<xt::xarray<float>> seen;
  w.register_post_accumulate_grad_hook([&](const Tensor& t) { seen.push_back(t.grad()); });
  // record_op with a plain flag: the tape cannot know it reads w.
  const bool record = w.requires_grad();
  Tensor doubled = record_op<float>("doubled_w", xt::xarray<float>(w.value() * 2.0f), record,
                                    [w](const xt::xarray<float>& g) { accumulate_grad(w, g * 2.0f); });
  Tensor y = sum(doubled * x) + sum(w * w);
  y.backward();
  REQUIRE(seen.size() == 1);
  CHECK(xt::allclose(seen[0], w.grad()));
  CHECK(w.grad()(1) == doctest::Approx(2.0f + 2 * -2.0f));
  CHECK_THROWS_AS(y.register_post_accumulate_grad_hook([](const Tensor&) {}), std::logic_error);
}

TEST_CASE("hooks run in every backward that reaches the leaf, and only then") {
  Tensor a = Tensor::of({1.0f, -2.0f}, true);
  Tensor b = Tensor::of({0.5f, 0.5f}, true);
  std::vector<xt::xarray<float>> seen;
  a.register_post_accumulate_grad_hook([&](const Tensor& t) { seen.push_back(t.grad()); });
  // An unrelated backward in between: a is not in its graph.
  Tensor h = a * 2.0f;  // the oldest reader of a
  sum(b * 3.0f).backward();
  CHECK(seen.empty());
  // The hook waits for h's record too, though a newer op read a first
  // after the unrelated backward.
  sum(h).backward(/*retain_graph=*/true);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0](0) == doctest::Approx(2.0f));
  // A second backward through the retained graph runs it again.
  Tensor y = sum(h) + sum(a * a);
  y.backward();
  REQUIRE(seen.size() == 2);
  CHECK(xt::allclose(seen[1], a.grad()));
  CHECK(a.grad()(0) == doctest::Approx(2.0f + 2.0f + 2 * 1.0f));
  // Two graphs built before either backward: a hook in each backward.
  a.zero_grad();
  Tensor loss1 = sum(a * 2.0f), loss2 = sum(a * 3.0f);
  loss1.backward();
  loss2.backward();
  REQUIRE(seen.size() == 4);
  CHECK(seen[2](0) == doctest::Approx(2.0f));
  CHECK(seen[3](0) == doctest::Approx(5.0f));
}

// Note [value pool]: a value dropped on a thread is the buffer of that
// thread's next op output of its element count, never while a handle can
// still read it; the values of every tensor stay right. The static tensor
// outlives the main thread's pool (destroyed at exit after it) and frees
// its own value (ASan checks the order in CI).
TEST_CASE("dropped values are recycled for the next output of their size, never while a handle reads them") {
  static const Tensor survivor = Tensor::full({16, 16}, 3.f);
  NoGradGuard no_grad;
  const Tensor a = Tensor::full({3, 5}, 1.5f);
  const float* dropped = nullptr;
  {
    const Tensor b = a * 2.f;
    dropped = b.data();
  }
  const Tensor c = a + 1.f;  // 15 elements, reshaped from the dropped (3, 5)
  CHECK(c.data() == dropped);
  CHECK(c.value() == xt::xarray<float>(xt::ones<float>({3, 5}) * 2.5f));
  const Tensor d = reshape(a, {5, 3}) * 4.f;  // same count, other shape
  CHECK(d.shape() == Shape{5, 3});
  CHECK(d.value() == xt::xarray<float>(xt::ones<float>({5, 3}) * 6.f));

  Tensor kept;
  {
    const Tensor e = a * 3.f;
    kept = e;  // a second handle: the value stays with the node
  }
  const Tensor f = a - 1.f;
  CHECK(f.data() != kept.data());
  CHECK(kept.value() == xt::xarray<float>(xt::ones<float>({3, 5}) * 4.5f));
  CHECK(f.value() == xt::xarray<float>(xt::ones<float>({3, 5}) * 0.5f));

  const Tensor g = Tensor::full({2, 2}, 1.f) * 2.f;  // another size: a fresh buffer
  CHECK(g.data() != kept.data());
  CHECK(survivor.value()(0, 0) == 3.f);
}
