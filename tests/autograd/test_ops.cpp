// Forward values of the ops, float against double, and shape errors that
// name the op and the shapes.
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include <cmath>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xstrided_view.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/node.hpp"

using namespace xgrad;

namespace {
// Nested braces with one element per row are ambiguous in C++ ({1.f} is
// also a float), so column literals are built from a flat list.
xt::xarray<float> column(std::initializer_list<float> values) {
  xt::xarray<float> a = xt::xarray<float>::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}
}  // namespace

TEST_CASE("broadcasting add: (3,1) + (1,4) -> (3,4) and gradients summed back") {
  Tensor a(column({1.f, 2.f, 3.f}), true);
  Tensor b = Tensor::of({{10.f, 20.f, 30.f, 40.f}}, true);
  Tensor c = a + b;
  CHECK(c.shape() == Shape{3, 4});
  CHECK(c.value()(2, 3) == 43.f);
  sum(c).backward();
  CHECK(a.grad() == column({4.f, 4.f, 4.f}));
  CHECK(b.grad() == xt::xarray<float>({{3.f, 3.f, 3.f, 3.f}}));
}

TEST_CASE("matmul and its transposed forms agree with hand-computed products") {
  Tensor a = Tensor::of({{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}});  // (3, 2)
  Tensor b = Tensor::of({{1.f, 0.f, -1.f}, {2.f, 1.f, 0.f}});   // (2, 3)
  xt::xarray<float> expected = {{5.f, 2.f, -1.f}, {11.f, 4.f, -3.f}, {17.f, 6.f, -5.f}};
  CHECK(matmul(a, b).value() == expected);
  CHECK(matmul(transpose(a), b, true, false).value() == expected);
  CHECK(matmul(a, transpose(b), false, true).value() == expected);
  CHECK(matmul(transpose(a), transpose(b), true, true).value() == expected);
  Tensor bias = Tensor::of({100.f, 200.f, 300.f});
  CHECK(addmm(bias, a, b).value()(1, 2) == 297.f);
  Tensor batched = reshape(Tensor::of({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f}), {2, 2, 2});
  Tensor product = matmul(batched, Tensor(column({1.f, 1.f})));
  CHECK(product.shape() == Shape{2, 2, 1});
  CHECK(reshape(product, {-1}).value() == xt::xarray<float>({3.f, 7.f, 11.f, 15.f}));
}

TEST_CASE("one-row and one-column products (GEMV) match hand-computed sums in every layout, C never read") {
  Generator gen(4);
  for (const bool ta : {false, true})
    for (const bool tb : {false, true})
      for (const bool one_row : {true, false}) {
        CAPTURE(ta);
        CAPTURE(tb);
        CAPTURE(one_row);
        const std::size_t m = one_row ? 1 : 7, n = one_row ? 9 : 1, k = 6;
        const TensorD a = randn<double>(ta ? Shape{k, m} : Shape{m, k}, gen);
        const TensorD b = randn<double>(tb ? Shape{n, k} : Shape{k, n}, gen);
        const TensorD bias = randn<double>({m, n}, gen);
        const TensorD c = matmul(a, b, ta, tb);
        const TensorD with_bias = addmm(bias, a, b, ta, tb);
        REQUIRE(c.shape() == Shape{m, n});
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            double sum = 0;
            for (std::size_t p = 0; p < k; ++p)
              sum += (ta ? a.value()(p, i) : a.value()(i, p)) * (tb ? b.value()(j, p) : b.value()(p, j));
            CHECK(c.value()(i, j) == doctest::Approx(sum).epsilon(1e-12));
            CHECK(with_bias.value()(i, j) == doctest::Approx(sum + bias.value()(i, j)).epsilon(1e-12));
          }
      }
  // A large one is split between threads in fixed pieces: the bits of one thread.
  {
    Generator g2(9);
    const Tensor row = randn<float>({1, 512}, g2), w = randn<float>({4096, 512}, g2);
    set_num_threads(1);
    const xt::xarray<float> one = matmul(row, w, false, true).value();
    set_num_threads(2);
    const xt::xarray<float> two = matmul(row, w, false, true).value();
    set_num_threads(1);
    CHECK(one == two);
    double sum = 0;
    for (std::size_t p = 0; p < 512; ++p) sum += double(row.value()(0, p)) * double(w.value()(4000, p));
    CHECK(one(0, 4000) == doctest::Approx(sum).epsilon(1e-5));
  }
  // beta = 0 never reads C: NaN in the output buffer does not leak into it.
  std::vector<float> a(4, 1.f), b(4 * 3, 2.f), c(3, std::numeric_limits<float>::quiet_NaN());
  blas::gemm(false, false, 1, 3, 4, 1.f, a.data(), 4, b.data(), 3, 0.f, c.data(), 3);
  CHECK(c == std::vector<float>{8.f, 8.f, 8.f});
}

TEST_CASE("addmm consuming its bias takes the buffer only when no one else can read it") {
  TensorD proj = TensorD::of({{{1.0, 2.0}, {3.0, 4.0}}, {{5.0, 6.0}, {7.0, 8.0}}}, true);  // (T 2, B 2, N 2)
  TensorD h = TensorD::of({{1.0, 0.0}, {0.0, 2.0}}, true);
  TensorD w = TensorD::of({{1.0, 1.0}, {0.5, -1.0}}, true);  // used as w^T
  std::vector<TensorD> steps = unbind(proj, 0);
  const double* step0 = steps[0].data();
  TensorD kept = steps[1];  // a second handle: steps[1] must be copied, not taken
  const double* step1 = steps[1].data();
  TensorD out0 = addmm(std::move(steps[0]), h, w, false, true);
  TensorD out1 = addmm(std::move(steps[1]), h, w, false, true);
  CHECK(out0.data() == step0);
  CHECK(out1.data() != step1);
  CHECK(kept.value() == xt::xarray<double>({{5.0, 6.0}, {7.0, 8.0}}));
  // h w^T = {{1, 0.5}, {2, -2}}
  CHECK(out0.value() == xt::xarray<double>({{2.0, 2.5}, {5.0, 2.0}}));
  CHECK(out1.value() == xt::xarray<double>({{6.0, 6.5}, {9.0, 6.0}}));
  sum(out0 * 2.0 + out1).backward();
  CHECK(proj.grad() == xt::xarray<double>({{{2.0, 2.0}, {2.0, 2.0}}, {{1.0, 1.0}, {1.0, 1.0}}}));
  // dh = (2 + 1) * ones(2, 2) @ w = 3 * column sums of w
  CHECK(h.grad() == xt::xarray<double>({{4.5, 0.0}, {4.5, 0.0}}));

  SUBCASE("a value its record reads is never taken") {
    TensorD x = TensorD::of({{0.5, -0.5}, {1.0, 2.0}}, true);
    TensorD s = sigmoid(x);  // sigmoid's backward reads s
    const double* sp = s.data();
    TensorD out = addmm(std::move(s), h, w, false, true);
    CHECK(out.data() != sp);
    sum(out).backward();
    const double s00 = 1.0 / (1.0 + std::exp(-0.5));
    CHECK(x.grad()(0, 0) == doctest::Approx(s00 * (1 - s00)).epsilon(1e-12));
  }
}

TEST_CASE("unbind consuming its input frees the value no one can read, and gradients still flow") {
  const auto run = [](bool consume, std::weak_ptr<TensorNode<double>>* projected_node) {
    TensorD x = TensorD::of({{{1.0, 2.0}, {3.0, -1.0}}, {{0.5, 0.0}, {-2.0, 1.0}}}, true);  // (T 2, B 2, F 2)
    TensorD w = TensorD::of({{1.0, -1.0}, {2.0, 0.5}, {0.0, 3.0}}, true);                   // (3, 2)
    TensorD b = TensorD::of({0.1, 0.2, 0.3}, true);
    std::vector<TensorD> steps;
    if (consume) {
      TensorD projected = linear(x, w, b);  // linear's rule reads no output value
      *projected_node = projected.node_ptr();
      steps = unbind(std::move(projected), 0);
      // Freed once copied: only its shape is left, for the gradient.
      CHECK(projected_node->lock()->value.size() == 0);
    } else {
      TensorD projected = linear(x, w, b);
      steps = unbind(projected, 0);
      CHECK(projected.size() == 12);
    }
    CHECK(steps[1].value() == xt::xarray<double>({{0.6, 1.2, 0.3}, {-2.9, -3.3, 3.3}}));
    sum(steps[0] * steps[0] + steps[1] * 3.0).backward();
    return std::vector<xt::xarray<double>>{x.grad(), w.grad(), b.grad()};
  };
  std::weak_ptr<TensorNode<double>> node;
  const auto kept = run(false, nullptr), freed = run(true, &node);
  for (std::size_t i = 0; i < 3; ++i) CHECK(xt::allclose(kept[i], freed[i], 1e-15, 1e-15));
  CHECK(kept[2](0) == doctest::Approx(2 * (-0.9 + 4.1) + 6.0));  // b0: 2 (step 0 column 0) + 3 B

  SUBCASE("a value another handle can read is kept") {
    TensorD x = TensorD::of({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, true);
    TensorD y = narrow(x, 0, 1, 2);  // narrow's rule reads no output value, like linear's
    TensorD other = y;
    std::weak_ptr<TensorNode<double>> yn = y.node_ptr();
    std::vector<TensorD> rows = unbind(std::move(y), 0);
    CHECK(yn.lock()->value.size() == 4);
    CHECK(other.value() == xt::xarray<double>({{3.0, 4.0}, {5.0, 6.0}}));
  }
  SUBCASE("a value its record reads is kept") {
    TensorD x = TensorD::of({{0.5, -0.5}}, true);
    TensorD s = sigmoid(x);
    std::weak_ptr<TensorNode<double>> sn = s.node_ptr();
    std::vector<TensorD> rows = unbind(std::move(s), 0);
    CHECK(sn.lock()->value.size() == 2);
    sum(rows[0]).backward();
    const double s0 = 1.0 / (1.0 + std::exp(-0.5));
    CHECK(x.grad()(0, 0) == doctest::Approx(s0 * (1 - s0)).epsilon(1e-12));
  }
}

TEST_CASE("reshape consuming its input takes its buffer when no one else can read it; gradients as reshape()") {
  auto run = [](bool consume, bool second_handle) {
    TensorD x = TensorD::of({{1.0, -2.0, 3.0}, {4.0, 5.0, -6.0}}, true);
    TensorD y = concat<double>({x, x * 2.0}, 0);  // (4, 3); concat's rule reads no output value
    TensorD other = second_handle ? y : TensorD();
    const double* before = y.data();
    TensorD r = consume ? reshape(std::move(y), {2, -1}) : reshape(y, {2, -1});
    CHECK(r.shape() == Shape{2, 6});
    CHECK((r.data() == before) == (consume && !second_handle));
    CHECK(r.value() == xt::xarray<double>({{1.0, -2.0, 3.0, 4.0, 5.0, -6.0}, {2.0, -4.0, 6.0, 8.0, 10.0, -12.0}}));
    if (second_handle) CHECK(other.shape() == Shape{4, 3});  // untouched
    // d/dx of sum(r * w), w = 1..12 over r's (2, 6) layout: x's element k gets
    // w_k + 2 w_{k+6}.
    const TensorD w{xt::xarray<double>(xt::reshape_view(xt::arange<double>(12) + 1.0, {2, 6}))};
    sum(r * w).backward();
    return xt::xarray<double>(x.grad());
  };
  const xt::xarray<double> expected = {{1.0 + 14.0, 2.0 + 16.0, 3.0 + 18.0}, {4.0 + 20.0, 5.0 + 22.0, 6.0 + 24.0}};
  for (const bool consume : {false, true}) {
    for (const bool second_handle : {false, true}) {
      CAPTURE(consume);
      CAPTURE(second_handle);
      CHECK(run(consume, second_handle) == expected);
    }
  }
  SUBCASE("bad shapes are named as with reshape()") {
    CHECK_THROWS_WITH_AS(reshape(TensorD::zeros({2, 3}), {4, 2}), doctest::Contains("cannot reshape (2, 3)"),
                         std::invalid_argument);
  }
}

TEST_CASE("mask consuming its input masks in place when no one else can read it; gradients as mask()") {
  // (1, B 4, F 4): one mask per sequence (16 elements: whole blocks of the input).
  xt::xarray<double> mv = xt::zeros<double>({1, 4, 4});
  for (std::size_t i = 0; i < mv.size(); ++i) mv.flat(i) = i % 3 == 0 ? 0.0 : 2.0;
  const TensorD m{xt::xarray<double>(mv)};
  const xt::xarray<double> wv = xt::reshape_view(xt::arange<double>(32) * 0.5 - 3.0, {2, 4, 4});
  auto run = [&](bool consume, bool second_handle) {
    TensorD x{xt::xarray<double>(xt::reshape_view(xt::arange<double>(48) + 1.0, {3, 4, 4})), true};
    TensorD block = narrow(x, 0, 1, 2);  // (2, 4, 4), narrow's own copy
    TensorD other = second_handle ? block : TensorD();
    const double* before = block.data();
    TensorD y = consume ? mask(std::move(block), m) : mask(block, m);
    CHECK((y.data() == before) == (consume && !second_handle));
    const xt::xarray<double> xv = x.value();
    CHECK(y.value() == xt::xarray<double>(xt::view(xv, xt::range(1, 3)) * mv));
    if (second_handle) CHECK(other.value() == xt::xarray<double>(xt::view(xv, xt::range(1, 3))));  // untouched
    sum(y * TensorD(xt::xarray<double>(wv))).backward();
    return x.grad();
  };
  xt::xarray<double> expected = xt::zeros<double>({3, 4, 4});
  xt::view(expected, xt::range(1, 3)) = wv * mv;
  CHECK(run(false, false) == expected);
  CHECK(run(true, false) == expected);
  CHECK(run(true, true) == expected);

  SUBCASE("the consumed tensor is also the mask") {
    TensorD x = TensorD::of({{1.0, -2.0}, {3.0, 0.5}});
    TensorD y = mask(std::move(x), x);
    CHECK(y.value() == xt::xarray<double>({{1.0, 4.0}, {9.0, 0.25}}));
  }
  SUBCASE("a mask larger than the input broadcasts as mask() does") {
    TensorD x = TensorD::of({{1.0, 2.0}}, true);  // (1, 2)
    TensorD y = mask(x * 1.0, TensorD::of({{1.0, 0.0}, {2.0, 3.0}}));
    CHECK(y.value() == xt::xarray<double>({{1.0, 0.0}, {2.0, 6.0}}));
    sum(y).backward();
    CHECK(x.grad() == xt::xarray<double>({{3.0, 3.0}}));
  }
}

TEST_CASE("addmm and linear edge cases: odd row counts, empty batches, 3-D operands, aliasing") {
  SUBCASE("row counts that do not divide into 8 blocks, full and scalar biases") {
    for (std::size_t m : {1, 7, 9, 13, 17, 33, 41}) {
      TensorD a = TensorD::full({m, 2}, 1.0, true);
      TensorD w = TensorD::of({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});  // (3, 2), used as w^T
      TensorD full_bias = TensorD::full({m, 3}, 0.5, true);
      TensorD scalar_bias = TensorD::scalar(-1.0);
      TensorD y = addmm(full_bias, a, w, false, true);  // each row: 3.5, 7.5, 11.5
      TensorD z = addmm(scalar_bias, a, w, false, true);
      CHECK(y.value()(m - 1, 2) == 11.5);
      CHECK(z.value()(m - 1, 0) == 2.0);
      sum(linear(a, w, TensorD::of({1.0, 1.0, 1.0}, true)) + y).backward();
      CHECK(full_bias.grad()(m - 1, 1) == 1.0);
      CHECK(a.grad()(m - 1, 0) == 18.0);  // twice the column sum of w
    }
  }
  SUBCASE("an empty batch") {
    TensorD x = TensorD::zeros({0, 2}, true);
    TensorD w = TensorD::of({{1.0, 2.0}, {3.0, 4.0}}, true);
    TensorD b = TensorD::of({1.0, -1.0}, true);
    TensorD y = linear(x, w, b);
    CHECK(y.shape() == Shape{0, 2});
    sum(y).backward();
    CHECK(b.grad() == xt::xarray<double>({0.0, 0.0}));
  }
  SUBCASE("a 3-D first operand with a full bias of the flattened rows") {
    TensorD a = TensorD::full({2, 3, 2}, 1.0, true);  // M = 6
    TensorD w = TensorD::of({{1.0, 0.0}, {0.0, 1.0}});
    TensorD bias = TensorD::zeros({6, 2}, true);
    TensorD y = addmm(bias, a, w, false, true);
    CHECK(y.shape() == Shape{2, 3, 2});
    sum(y * 2.0).backward();
    CHECK(bias.grad()(5, 1) == 2.0);
  }
  SUBCASE("the consumed bias is also an operand") {
    TensorD x = TensorD::of({{1.0, 2.0}, {3.0, 4.0}});
    TensorD y = addmm(std::move(x), x, TensorD::of({{1.0, 0.0}, {0.0, 1.0}}), false, true);
    CHECK(y.value() == xt::xarray<double>({{2.0, 4.0}, {6.0, 8.0}}));
  }
  SUBCASE("a piece whose unbind record was freed is not taken from a user's handle") {
    TensorD proj = TensorD::of({{{1.0, 2.0}}, {{3.0, 4.0}}}, true);  // (2, 1, 2)
    std::vector<TensorD> steps = unbind(proj, 0);
    TensorD keep = steps[0];
    sum(steps[1]).backward();  // frees the unbind record
    TensorD h = TensorD::of({{1.0, 1.0}});
    TensorD y = addmm(std::move(steps[0]), h, TensorD::of({{1.0, 0.0}, {0.0, 1.0}}), false, true);
    CHECK(keep.value() == xt::xarray<double>({{1.0, 2.0}}));
    CHECK(y.value() == xt::xarray<double>({{2.0, 3.0}}));
  }
}

TEST_CASE("linear matches x W^T + b") {
  Tensor x = Tensor::of({{1.f, 2.f}});
  Tensor w = Tensor::of({{1.f, 1.f}, {0.f, -1.f}, {2.f, 0.5f}});
  Tensor b = Tensor::of({0.5f, 0.f, -1.f});
  CHECK(linear(x, w, b).value() == xt::xarray<float>({{3.5f, -2.f, 2.f}}));
}

TEST_CASE("softmax, log_softmax and logsumexp are consistent and stable") {
  Tensor x = Tensor::of({{1000.f, 1001.f, 1002.f}, {-5.f, 0.f, 5.f}});
  Tensor s = softmax(x, 1);
  for (std::size_t r = 0; r < 2; ++r) CHECK(xt::sum(xt::row(s.value(), r))() == doctest::Approx(1.f));
  CHECK(s.value()(0, 2) == doctest::Approx(0.66524096f));
  CHECK(xt::allclose(xt::exp(log_softmax(x, 1).value()), s.value()));
  CHECK(logsumexp(x, 1).value()(0) == doctest::Approx(1002.4076f));
}

TEST_CASE("max over an axis returns values and routes the gradient to the argmax") {
  Tensor x = Tensor::of({{1.f, 9.f, 3.f}, {7.f, 2.f, 7.f}}, true);
  Tensor m = max(x, 1);
  CHECK(m.value() == xt::xarray<float>({9.f, 7.f}));
  sum(m).backward();
  CHECK(x.grad() == xt::xarray<float>({{0.f, 1.f, 0.f}, {1.f, 0.f, 0.f}}));  // first max on ties
  CHECK(max(Tensor::of({4.f, 8.f, 1.f}), 0).item() == 8.f);                  // 1-D: a max, not an argmin
}

TEST_CASE("shape ops: chunk sizes, concat and stack layouts, index_select gathers rows") {
  Tensor x = reshape(Tensor::of({0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f}), {2, 5});
  auto pieces = chunk(x, 3, 1);
  REQUIRE(pieces.size() == 3);
  CHECK(pieces[0].shape() == Shape{2, 2});
  CHECK(pieces[2].shape() == Shape{2, 1});
  CHECK(pieces[2].value() == column({4.f, 9.f}));
  CHECK(concat(std::vector<Tensor>{pieces[0], pieces[1], pieces[2]}, 1).value() == x.value());
  Tensor st = stack(std::vector<Tensor>{pieces[0], pieces[1]}, 0);
  CHECK(st.shape() == Shape{2, 2, 2});
  CHECK(st.value()(1, 1, 0) == 7.f);
  xt::xarray<std::int64_t> idx = {{1, 1}, {0, 1}};
  Tensor g = index_select(x, idx, 0);
  CHECK(g.shape() == Shape{2, 2, 5});
  CHECK(g.value()(1, 0, 4) == 4.f);
  CHECK(squeeze(unsqueeze(x, 0), 0).shape() == Shape{2, 5});
  CHECK(reshape(x, {-1}).shape() == Shape{10});
}

TEST_CASE("float and double forward/backward agree on a composite expression") {
  Generator g1(9);
  TensorD xd = randn<double>({4, 6}, g1, true), wd = randn<double>({3, 6}, g1, true);
  Tensor xf = xd.cast<float>(true), wf = wd.cast<float>(true);
  TensorD yd = mean(tanh(linear(xd, wd)) * sigmoid(linear(xd * 2.0, wd)));
  Tensor yf = mean(tanh(linear(xf, wf)) * sigmoid(linear(xf * 2.f, wf)));
  CHECK(yf.item() == doctest::Approx(yd.item()).epsilon(1e-5));
  yd.backward();
  yf.backward();
  CHECK(xt::allclose(xt::cast<double>(wf.grad()), wd.grad(), 1e-4, 1e-6));
}

TEST_CASE("shape errors name the op and both shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(a + b, "add: shapes (2, 3) and (4,) cannot be broadcast together", std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({2, 5})),
                       doctest::Contains("matmul: inner dimensions differ (3 vs 2) for shapes (2, 3) and (2, 5)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(b, a), doctest::Contains("rank >= 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(addmm(Tensor::zeros({4}), a, Tensor::zeros({3, 5})), doctest::Contains("bias of shape (4,)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(reshape(a, {4, 2}), doctest::Contains("cannot reshape (2, 3)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat(std::vector<Tensor>{a, Tensor::zeros({3, 3})}, 1),
                       doctest::Contains("concat: tensor 1 has shape (3, 3)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(stack(std::vector<Tensor>{a, Tensor::zeros({3, 2})}, 0), doctest::Contains("stack"),
                       std::invalid_argument);
  xt::xarray<std::int64_t> bad = {0, 2};
  CHECK_THROWS_WITH_AS(index_select(a, bad, 0), doctest::Contains("index 2 is out of range [0, 2)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("axis 2 is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(narrow(a, 1, 2, 2), doctest::Contains("narrow: range [2, 4)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(squeeze(a, 0), doctest::Contains("not 1"), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::of({{1.f, 2.f}, {3.f}}), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::from_vector({2, 2}, {1.f, 2.f, 3.f}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(a.item(), doctest::Contains("6 elements"), std::invalid_argument);
  CHECK_THROWS_AS(Tensor().shape(), std::logic_error);
}

TEST_CASE("BLAS thread count is set deliberately") {
  set_num_threads(2);
  CHECK(num_threads() == 2);
  set_num_threads(1);
  CHECK(num_threads() == 1);
  CHECK_THROWS_AS(set_num_threads(0), std::invalid_argument);
  CHECK_FALSE(blas_core_name().empty());
}

TEST_CASE("slice, narrow and select follow Python's indexing: negative indices, steps, clamped bounds") {
  const Tensor a = Tensor::of({0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f});
  CHECK(slice(a, 0, -3, slice_end).value() == xt::xarray<float>({4.f, 5.f, 6.f}));  // a[-3:]
  CHECK(slice(a, 0, 1, slice_end, 3).value() == xt::xarray<float>({1.f, 4.f}));     // a[1::3]
  CHECK(slice(a, 0, -100, 2).value() == xt::xarray<float>({0.f, 1.f}));             // a[-100:2]
  CHECK(slice(a, 0, 5, 2).size() == 0);                                             // a[5:2] is empty
  CHECK(slice(a, 0, 0, 100, 4).value() == xt::xarray<float>({0.f, 4.f}));           // a[0:100:4]
  CHECK(narrow(a, 0, -2, 2).value() == xt::xarray<float>({5.f, 6.f}));
  CHECK(select(a, 0, -7).item() == 0.f);
  CHECK_THROWS_WITH_AS(slice(a, 0, 0, 3, 0), doctest::Contains("step must be at least 1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(select(a, 0, -8), doctest::Contains("index -8 is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(select(a, 0, 7), doctest::Contains("index 7 is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(narrow(a, 0, -2, 3), doctest::Contains("exceeds axis 0"), std::invalid_argument);
  // The gradient of a stepped slice lands on the rows it took, zero elsewhere.
  Tensor x = Tensor::of({{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}, {7.f, 8.f}, {9.f, 10.f}});
  x.requires_grad_(true);
  sum(slice(x, 0, -4, slice_end, 2) * 2.f).backward();
  CHECK(x.grad() == xt::xarray<float>({{0.f, 0.f}, {2.f, 2.f}, {0.f, 0.f}, {2.f, 2.f}, {0.f, 0.f}}));
}
