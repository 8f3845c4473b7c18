// xgrad's worker threads (xgrad/autograd/detail/parallel.hpp): split GEMMs, elementwise
// ranges and asynchronous weight gradients must give the gradients of the
// single-threaded run, on sizes large enough to take every parallel path.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/detail/inline_function.hpp"
#include "xgrad/autograd/detail/parallel.hpp"

using namespace xgrad;

namespace {

struct Result {
  xt::xarray<float> loss, dw, dx, db, dh0;
};

// An LSTM-like recurrence from generic ops, B 64, H 128 (gate block 64x512,
// so step GEMMs and elementwise ops are above the split thresholds). The
// weight w is also used elementwise (a gradient from the main thread next
// to the asynchronous GEMM ones), and a retained output gradient is handed
// to an asynchronous job (a copy, not a move).
Result run(int threads) {
  set_num_threads(threads);
  Generator gen(7);
  const std::size_t B = 64, H = 128, E = 32, T = 6;
  Tensor w = uniform<float>({4 * H, H}, -0.1f, 0.1f, gen, true);
  Tensor wx = uniform<float>({4 * H, E}, -0.1f, 0.1f, gen, true);
  Tensor b = uniform<float>({4 * H}, -0.1f, 0.1f, gen, true);
  Tensor x = uniform<float>({T, B, E}, -1.f, 1.f, gen, true);
  Tensor h0 = uniform<float>({B, H}, -1.f, 1.f, gen, true);
  const Tensor projected = linear(x, wx, b);
  const auto steps = unbind(projected, 0);
  Tensor h = h0, c = Tensor::zeros({B, H});
  Tensor kept;
  for (std::size_t t = 0; t < T; ++t) {
    Tensor gates_pre = addmm(steps[t], h, w, false, true);
    if (t == 2) {
      gates_pre.retain_grad();
      kept = gates_pre;
    }
    auto gates = chunk(gates_pre, 4, 1);
    c = sigmoid(gates[1]) * c + sigmoid(gates[0]) * tanh(gates[2]);
    h = sigmoid(gates[3]) * tanh(c);
  }
  Tensor loss = sum(h * h) + sum(w * w) * 0.5f;
  loss.backward();
  CHECK(kept.has_grad());
  Result r{loss.value(), w.grad(), x.grad(), b.grad(), h0.grad()};
  set_num_threads(1);
  return r;
}

void check_close(const xt::xarray<float>& a, const xt::xarray<float>& b) {
  REQUIRE(a.shape() == b.shape());
  const float scale = xt::amax(xt::abs(b))() + 1e-6f;
  CHECK(xt::amax(xt::abs(a - b))() <= 1e-5f * scale);
}

}  // namespace

TEST_CASE("two threads give the single-threaded gradients") {
  const Result one = run(1);
  const Result two = run(2);
  check_close(two.loss, one.loss);
  check_close(two.dw, one.dw);
  check_close(two.dx, one.dx);
  check_close(two.db, one.db);
  check_close(two.dh0, one.dh0);
  // Twice, to reuse the pool and the leaves' finished jobs.
  const Result again = run(2);
  check_close(again.dw, one.dw);
}

TEST_CASE("gradients are final when backward returns, also for repeated backward") {
  set_num_threads(2);
  Generator gen(3);
  Tensor w = uniform<float>({256, 256}, -0.1f, 0.1f, gen, true);
  Tensor a = uniform<float>({128, 256}, -1.f, 1.f, gen, true);
  for (int i = 0; i < 3; ++i) sum(matmul(a, w)).backward();
  // d/dw sum(a w) = a^T 1, three times.
  xt::xarray<float> expected = 3.f * xt::sum(a.value(), {0});
  for (std::size_t j = 0; j < 256; ++j) CHECK(w.grad()(j, 7) == doctest::Approx(expected(j)).epsilon(1e-4));
  set_num_threads(1);
}

TEST_CASE("two threads recording at once share the workers") {
  set_num_threads(2);
  auto train = [](float scale, xt::xarray<float>* out) {
    Generator gen(11);
    Tensor w = uniform<float>({512, 128}, -0.1f, 0.1f, gen, true);
    Tensor h = uniform<float>({64, 128}, -1.f, 1.f, gen);
    for (int i = 0; i < 5; ++i) sum(tanh(matmul(h, w, false, true)) * scale).backward();
    *out = w.grad();
  };
  xt::xarray<float> a, b, a_serial;
  std::thread t1(train, 0.5f, &a), t2(train, -1.5f, &b);
  t1.join();
  t2.join();
  set_num_threads(1);
  train(0.5f, &a_serial);
  check_close(a, a_serial);
  check_close(b, a_serial * -3.f);
}

TEST_CASE("concat, stack and index_select copy on two threads what they copy on one") {
  // Sizes above the fork-join's threshold, so that two threads split the
  // copies: concat by rows (an odd count of them) or, along axis 0, by
  // tensor; stack by tensor; index_select by ranges of indices.
  const auto iota = [](const Shape& shape, float start) {
    xt::xarray<float> v = xt::empty<float>(shape);
    for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = start + float(i);
    return Tensor(std::move(v));
  };
  const Tensor a = iota({65, 100}, 0.f), b = iota({65, 156}, 1e6f), c = iota({300, 256}, 2e6f);
  std::vector<Tensor> steps;
  for (std::size_t t = 0; t < 200; ++t) steps.push_back(iota({64, 128}, float(t) * 1e4f));
  const Tensor table = iota({1000, 64}, 0.f);
  xt::xarray<std::int64_t> tokens = xt::empty<std::int64_t>(Shape{200, 64});
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens.data()[i] = std::int64_t((i * 7919) % 1000);
  struct Out {
    xt::xarray<float> rows, rows_twice, by_tensor, stacked, stacked_inner, gathered;
  };
  const auto run_ops = [&](int threads) {
    set_num_threads(threads);
    Out o;
    o.rows = concat<float>({a, b}, 1).value();
    o.rows_twice = concat<float>({a, a}, 1).value();
    o.by_tensor = concat<float>({concat<float>({a, b}, 1), c}, 0).value();
    o.stacked = stack(steps, 0).value();
    o.stacked_inner = stack(steps, 1).value();
    o.gathered = index_select(table, tokens, 0).value();
    set_num_threads(1);
    return o;
  };
  const Out one = run_ops(1), two = run_ops(2);
  CHECK(two.rows == one.rows);
  CHECK(two.rows_twice == one.rows_twice);
  CHECK(two.by_tensor == one.by_tensor);
  CHECK(two.stacked == one.stacked);
  CHECK(two.stacked_inner == one.stacked_inner);
  CHECK(two.gathered == one.gathered);
  // And what they copy is right (xtensor's own concatenate, stack and indexing).
  CHECK(two.rows == xt::xarray<float>(xt::concatenate(xt::xtuple(a.value(), b.value()), 1)));
  CHECK(two.rows_twice == xt::xarray<float>(xt::concatenate(xt::xtuple(a.value(), a.value()), 1)));
  CHECK(xt::view(two.by_tensor, xt::range(0, 65), xt::all()) == two.rows);
  CHECK(xt::view(two.by_tensor, xt::range(65, 365), xt::all()) == c.value());
  CHECK(xt::view(two.stacked, 123) == steps[123].value());
  CHECK(xt::view(two.stacked_inner, xt::all(), 77) == steps[77].value());
  for (std::size_t i : {std::size_t(0), std::size_t(6399), std::size_t(12799)})
    CHECK(xt::view(two.gathered, i / 64, i % 64) == xt::view(table.value(), tokens.data()[i]));
}

TEST_CASE("InlineFunction owns its callable, inline or on the heap, through moves") {
  auto token = std::make_shared<int>(1);
  std::array<double, 64> big{};  // 512 bytes: past the inline storage
  big[63] = 2.0;
  double seen = 0;
  {
    InlineFunction small([token, &seen] { seen += 1; });
    InlineFunction large([token, big, &seen] { seen += big[63]; });
    CHECK(token.use_count() == 3);
    InlineFunction moved_small = std::move(small);
    InlineFunction moved_large = std::move(large);
    CHECK_FALSE(small);
    CHECK_FALSE(large);
    CHECK(token.use_count() == 3);
    moved_small();
    moved_large();
    CHECK(seen == 3.0);
    moved_small = std::move(moved_large);  // destroys the small one
    CHECK(token.use_count() == 2);
  }
  CHECK(token.use_count() == 1);
}

TEST_CASE("the worker runs queued jobs in order, past the queue's first 16 slots") {
  set_num_threads(2);
  std::vector<int> order;
  std::array<double, 64> big{};
  // The first job holds the worker until 40 more are queued, so the ring
  // grows while it is full and wrapped (its head moved past slot 0).
  std::atomic<bool> release{false};
  parallel::submit([&release] {
    while (!release.load()) std::this_thread::yield();
  });
  std::uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    if (i == 40) release.store(true);
    if (i % 10 == 0) {
      last = parallel::submit([&order, i, big] { order.push_back(i + static_cast<int>(big[0])); });
    } else {
      last = parallel::submit([&order, i] { order.push_back(i); });
    }
  }
  parallel::wait(last);
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
  set_num_threads(1);
}

// Note [fork-join claims]: every chunk of every fork runs exactly once, on
// forks of changing sizes back to back (a worker's claim from a stale
// reading of the previous fork must fail, not take a chunk of the next),
// with one worker and with two, and with two threads forking at once (one
// of them runs its chunks alone).
TEST_CASE("fork-joins run every chunk of every fork exactly once") {
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    constexpr std::size_t kForks = 20000, kMaxChunks = 7;
    const auto run_forks = [&](std::uint64_t seed) {
      std::array<std::atomic<int>, kMaxChunks> runs{};
      std::size_t mismatches = 0;
      for (std::size_t f = 0; f < kForks; ++f) {
        const std::size_t chunks = 2 + (f * 7 + seed) % (kMaxChunks - 1);
        for (auto& r : runs) r.store(0);
        parallel::parallel_for(chunks, [&](std::size_t i) { runs[i].fetch_add(1); });
        for (std::size_t i = 0; i < kMaxChunks; ++i) mismatches += runs[i].load() != (i < chunks ? 1 : 0);
      }
      return mismatches;
    };
    CHECK(run_forks(0) == 0);
    std::size_t other = 1;
    std::thread second([&] { other = run_forks(3); });
    const std::size_t mine = run_forks(5);
    second.join();
    CHECK(mine == 0);
    CHECK(other == 0);
  }
  set_num_threads(1);
}

// Note [work ahead]: the items arrive in order, made on the worker while the
// caller consumes them (on the caller itself without workers), an exception
// reaches the caller, and the destructor stops the work and waits for it.
TEST_CASE("work ahead: made on the worker in order, errors reach the caller, cancelled at the end") {
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    set_num_threads(threads);
    constexpr std::size_t kItems = 300;
    std::vector<std::uint64_t> items(kItems, 0);
    std::thread::id made_on;
    {
      const auto work = [&](parallel::WorkAhead& ahead) {
        made_on = std::this_thread::get_id();
        for (std::size_t i = 0; i < kItems; ++i) {
          items[i] = i * i + 1;
          ahead.publish(i + 1);
        }
      };
      parallel::WorkAhead ahead(work);
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < kItems; ++i) {
        ahead.wait_for(i + 1);
        wrong += items[i] != i * i + 1;
      }
      CHECK(wrong == 0);
    }
    CHECK((made_on == std::this_thread::get_id()) == (threads == 1));

    const auto failing = [](parallel::WorkAhead& ahead) {
      ahead.publish(3);
      throw std::runtime_error("item 3 is broken");
    };
    parallel::WorkAhead broken(failing);
    CHECK_NOTHROW(broken.wait_for(3));
    CHECK_THROWS_WITH_AS(broken.wait_for(4), "item 3 is broken", std::runtime_error);

    const auto short_work = [](parallel::WorkAhead& ahead) { ahead.publish(2); };
    parallel::WorkAhead short_of_items(short_work);
    CHECK_THROWS_AS(short_of_items.wait_for(5), std::logic_error);
  }
  // The destructor tells endless work to stop, and returns once it has.
  set_num_threads(2);
  std::atomic<bool> stopped{false};
  {
    const auto endless = [&](parallel::WorkAhead& ahead) {
      for (std::size_t i = 1; !ahead.cancelled(); ++i) ahead.publish(i);
      stopped.store(true);
    };
    parallel::WorkAhead ahead(endless);
    ahead.wait_for(1000);
  }
  CHECK(stopped.load());
  // Made on a worker (a queued job), work ahead runs at once: the worker
  // cannot wait for itself.
  bool inline_on_worker = false;
  const std::uint64_t ticket = parallel::submit([&] {
    const auto work = [](parallel::WorkAhead& ahead) { ahead.publish(7); };
    parallel::WorkAhead ahead(work);
    ahead.wait_for(7);
    inline_on_worker = true;
  });
  parallel::wait(ticket);
  CHECK(inline_on_worker);
  set_num_threads(1);
}

// Note [measured split]: runs of eight calls each way, then the choice with
// the shorter period between calls, for the next 2048 calls.
TEST_CASE("SplitChooser measures both choices, then keeps the faster") {
  const auto busy = [](int microseconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
    while (std::chrono::steady_clock::now() < end) {
    }
  };
  for (const bool split_is_faster : {true, false}) {
    CAPTURE(split_is_faster);
    parallel::SplitChooser chooser;
    std::vector<bool> choices;
    for (int call = 0; call < 32 + 2048 + 8; ++call) {
      const bool split = chooser.split();
      choices.push_back(split);
      busy(split == split_is_faster ? 5 : 40);
    }
    for (int call = 0; call < 32; ++call) CHECK(choices[std::size_t(call)] == ((call / 8) % 2 == 0));
    std::size_t kept = 0;
    for (int call = 32; call < 32 + 2048; ++call) kept += choices[std::size_t(call)] == split_is_faster;
    CHECK(kept == 2048);
    // Then it measures again.
    for (int call = 32 + 2048; call < 32 + 2048 + 8; ++call) CHECK(choices[std::size_t(call)]);
  }
}
