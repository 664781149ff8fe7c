// matmul (torch.matmul rules) and the gemm wrapper under it.
// Reference values were worked out by hand or with a plain-Python triple loop.
#include <omp.h>

#include <cmath>

#include "helpers.h"
#include "heed/ops/blas.h"

using namespace heed;
using namespace heed::test;

namespace {

// out[m, n] = sum_k a[m, k] b[k, n] in double precision, element by element:
// an oracle that shares no code with BLAS.
double naive_entry(const Tensor& a, const Tensor& b, int64_t m, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < a.size(1); ++k) s += a.at({m, k}) * b.at({k, n});
  return s;
}

}  // namespace

TEST_CASE("matmul values for each rank combination") {
  SUBCASE("1-D x 1-D is a dot product with a 0-d result") {
    Tensor y = matmul(Tensor({1, 2, 3}), Tensor({4, 5, 6}));
    CHECK(y.dim() == 0);
    CHECK(y.item() == 32);
  }
  SUBCASE("2-D x 1-D") {
    Tensor y = matmul(Tensor({{1, 2, 3}, {4, 5, 6}}), Tensor({1, 0, -1}));
    CHECK(y.shape() == Shape{2});
    check_values(y, {-2, -2});
  }
  SUBCASE("1-D x 2-D") {
    Tensor y = matmul(Tensor({1, 2}), Tensor({{1, 2, 3}, {4, 5, 6}}));
    CHECK(y.shape() == Shape{3});
    check_values(y, {9, 12, 15});
  }
  SUBCASE("2-D x 2-D, float32 and float64") {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor y = matmul(Tensor({{1, 2}, {3, 4}}, dt), Tensor({{5, 6}, {7, 8}}, dt));
      CHECK(y.dtype() == dt);
      CHECK(y.shape() == Shape{2, 2});
      check_values(y, {19, 22, 43, 50});
    }
  }
  SUBCASE("3-D x 2-D: b is shared by every batch entry") {
    Tensor a = Tensor::arange(12).reshape({2, 2, 3});
    Tensor y = matmul(a, Tensor({{1, 0}, {0, 1}, {1, 1}}));
    CHECK(y.shape() == Shape{2, 2, 2});
    check_values(y, {2, 3, 8, 9, 14, 15, 20, 21});
  }
  SUBCASE("3-D x 1-D and 1-D x 3-D") {
    Tensor a = Tensor::arange(12).reshape({2, 2, 3});
    Tensor y = matmul(a, Tensor({1, 0, 1}));  // [2, 2, 3] x [3] -> [2, 2]
    CHECK(y.shape() == Shape{2, 2});
    check_values(y, {2, 8, 14, 20});
    Tensor z = matmul(Tensor({1, -1}), a);  // [2] x [2, 2, 3] -> [2, 3]
    CHECK(z.shape() == Shape{2, 3});
    check_values(z, {-3, -3, -3, -3, -3, -3});
  }
  SUBCASE("4-D x 3-D with broadcast batch dims: [2, 1, 2, 3] x [3, 3, 2] -> [2, 3, 2, 2]") {
    Tensor a = Tensor::arange(12).reshape({2, 1, 2, 3}) * 0.5;
    Tensor b = (Tensor::arange(18) - 9).reshape({3, 3, 2});
    Tensor y = matmul(a, b);
    CHECK(y.shape() == Shape{2, 3, 2, 2});
    check_values(y, {-8.5, -7, -40, -34, 0.5,  2,  -4,  2,  9.5,  11, 32, 38,
                     -71.5, -61, -103, -88, -8.5, 2, -13, 2, 54.5, 65, 77, 92});
  }
  SUBCASE("2-D x 3-D: a is shared") {
    Tensor a = Tensor({{1, 2}, {0, 1}});
    Tensor b = Tensor::arange(8).reshape({2, 2, 2});
    check_values(matmul(a, b), {4, 7, 2, 3, 16, 19, 6, 7});
  }
  SUBCASE("the Tensor method forwards") {
    check_values(Tensor({{1, 2}}).matmul(Tensor({{3}, {4}})), {11});
  }
}

TEST_CASE("matmul reads views in place and agrees with contiguous copies") {
  SUBCASE("which layouts BLAS can read without a copy") {
    Tensor a = Tensor::randn({4, 6});
    CHECK(blas_can_read(a));
    CHECK(blas_can_read(a.t()));                  // a transpose flag
    CHECK(blas_can_read(a.slice(0, 1, 3)));       // a row block: ld stays 6
    CHECK(blas_can_read(a.slice(1, 1, 4)));       // a column block: ld 6 > 3 columns
    CHECK_FALSE(blas_can_read(a.slice(1, 0, 6, 2)));  // every other column: no unit stride
    CHECK_FALSE(blas_can_read(Tensor::randn({1, 6}).expand({4, 6})));  // rows overlap (stride 0)
  }
  auto same_as_copy = [](const Tensor& a, const Tensor& b) {
    Tensor view_result = matmul(a, b);
    Tensor copy_result = matmul(a.contiguous(), b.contiguous());
    check_values(view_result, copy_result.to_vector<double>(), 1e-5);
  };
  SUBCASE("a transposed") {
    same_as_copy(Tensor::randn({4, 3}).t(), Tensor::randn({4, 5}));
  }
  SUBCASE("b transposed (x W^T, the Linear layer)") {
    same_as_copy(Tensor::randn({3, 4}), Tensor::randn({5, 4}).t());
  }
  SUBCASE("both transposed, float64") {
    same_as_copy(Tensor::randn({4, 3}, kFloat64).t(), Tensor::randn({5, 4}, kFloat64).t());
  }
  SUBCASE("a batch of transposed matrices") {
    same_as_copy(Tensor::randn({2, 4, 3}).transpose(-1, -2), Tensor::randn({2, 4, 5}));
  }
  SUBCASE("a strided column slice and an expanded operand (copied inside)") {
    same_as_copy(Tensor::randn({3, 8}).slice(1, 0, 8, 2), Tensor::randn({1, 5}).expand({4, 5}));
  }
  SUBCASE("a non-contiguous 3-D a times a 2-D b (not the folded fast path)") {
    same_as_copy(Tensor::randn({4, 2, 3}).transpose(0, 1), Tensor::randn({3, 2}));
  }
}

TEST_CASE("matmul with empty dims") {
  SUBCASE("K == 0: an empty sum gives zeros") {
    Tensor y = matmul(Tensor::ones({3, 0}), Tensor::ones({0, 4}));
    CHECK(y.shape() == Shape{3, 4});
    check_values(y, std::vector<double>(12, 0.0));
  }
  SUBCASE("M == 0, N == 0, an empty batch") {
    CHECK(matmul(Tensor::ones({0, 3}), Tensor::ones({3, 4})).shape() == Shape{0, 4});
    CHECK(matmul(Tensor::ones({2, 3}), Tensor::ones({3, 0})).shape() == Shape{2, 0});
    CHECK(matmul(Tensor::ones({0, 2, 3}), Tensor::ones({3, 4})).shape() == Shape{0, 2, 4});
    CHECK(matmul(Tensor::ones({1, 0, 3}), Tensor::ones({4, 3, 5})).shape() == Shape{4, 0, 5});
  }
  SUBCASE("the gradient of an empty product is all zeros") {
    Tensor a = Tensor::ones({3, 0}, kFloat64).requires_grad_();
    Tensor b = Tensor::ones({0, 4}, kFloat64).requires_grad_();
    matmul(a, b).backward(Tensor::ones({3, 4}, kFloat64));
    CHECK(a.grad().shape() == Shape{3, 0});
    CHECK(b.grad().shape() == Shape{0, 4});
  }
}

TEST_CASE("matmul gradients") {
  auto mm = [](const TensorList& x) { return matmul(x[0], x[1]); };
  SUBCASE("1-D x 1-D") { CHECK(grad_ok(mm, {randn64({4}), randn64({4})})); }
  SUBCASE("2-D x 1-D") { CHECK(grad_ok(mm, {randn64({3, 4}), randn64({4})})); }
  SUBCASE("1-D x 2-D") { CHECK(grad_ok(mm, {randn64({4}), randn64({4, 2})})); }
  SUBCASE("2-D x 2-D") { CHECK(grad_ok(mm, {randn64({3, 4}), randn64({4, 2})})); }
  SUBCASE("3-D x 2-D (db folds the batch into one product)") {
    CHECK(grad_ok(mm, {randn64({2, 3, 4}), randn64({4, 2})}));
  }
  SUBCASE("3-D x 3-D, same batch") { CHECK(grad_ok(mm, {randn64({2, 3, 4}), randn64({2, 4, 2})})); }
  SUBCASE("non-contiguous inputs: transposed and sliced views") {
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0].t(), x[1].t()); },
                  {randn64({4, 3}), randn64({2, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0].slice(1, 0, 8, 2), x[1]); },
                  {randn64({3, 8}), randn64({4, 2})}));
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0].transpose(0, 1), x[1]); },
                  {randn64({3, 2, 4}), randn64({4, 2})}));
  }
  // These need sum_to over the broadcast batch dims (ops/reduce.cpp).
  SUBCASE("2-D x 3-D: a shared across the batch") {
    CHECK(grad_ok(mm, {randn64({3, 4}), randn64({2, 4, 2})}));
  }
  SUBCASE("1-D x 3-D") { CHECK(grad_ok(mm, {randn64({4}), randn64({2, 4, 3})})); }
  SUBCASE("4-D x 3-D with broadcast batch dims") {
    CHECK(grad_ok(mm, {randn64({2, 1, 2, 3}), randn64({3, 3, 2})}));
  }
  SUBCASE("a batch of transposed matrices with a size-1 batch dim") {
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0].transpose(-1, -2), x[1]); },
                  {randn64({1, 2, 4, 3}), randn64({3, 1, 4, 2})}));
  }
  SUBCASE("transposed operands, batched and shared (gradients computed in their layout)") {
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0], x[1].transpose(1, 2)); },
                  {randn64({2, 3, 4}), randn64({2, 5, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0].transpose(1, 2), x[1]); },
                  {randn64({2, 4, 3}), randn64({2, 4, 5})}));
    CHECK(grad_ok([](const TensorList& x) { return matmul(x[0], x[1].t()); }, {randn64({2, 3, 4}), randn64({5, 4})}));
  }
}

TEST_CASE("matmul: a transposed operand's gradient comes back in its layout") {
  // k.transpose(-1, -2) as the right operand, as attention scores use it: the
  // gradient that reaches k itself is contiguous (no strided add or copy after),
  // and its values are those of the plain product's gradient.
  auto arrives_contiguous = [](Tensor leaf, const std::function<Tensor(const Tensor&)>& f) {
    bool contiguous = false;
    leaf.register_hook([&](const Tensor& g) {
      contiguous = g.is_contiguous();
      return Tensor();
    });
    f(leaf).sum().backward();
    return contiguous;
  };
  Tensor q = randn64({2, 3, 4}), k = randn64({2, 5, 4}).requires_grad_(), R = randn64({2, 3, 5});
  CHECK(arrives_contiguous(k, [&](const Tensor& t) { return matmul(q, t.transpose(1, 2)) * R; }));
  Tensor k2 = k.detach().clone().requires_grad_();
  (matmul(q, k2.transpose(1, 2).contiguous()) * R).sum().backward();
  check_values(k.grad(), k2.grad().to_vector<double>(), 1e-12);
  // The left operand, and a weight shared by every batch entry (x W^T written out).
  Tensor a = randn64({2, 4, 3}).requires_grad_(), b = randn64({2, 4, 5});
  CHECK(arrives_contiguous(a, [&](const Tensor& t) { return matmul(t.transpose(1, 2), b); }));
  Tensor w = randn64({5, 4}).requires_grad_(), x = randn64({2, 3, 4});
  CHECK(arrives_contiguous(w, [&](const Tensor& t) { return matmul(x, t.t()); }));
  check_values(w.grad(), matmul(Tensor::ones({2, 3, 5}, kFloat64).reshape({6, 5}).t(), x.reshape({6, 4}))
                             .to_vector<double>(), 1e-12);
}

TEST_CASE("matmul errors") {
  CHECK_THROWS_WITH_AS(matmul(Tensor::ones({3, 4}), Tensor::ones({5, 6})),
                       "matmul: a is [3, 4], b is [5, 6]; a's last dim (4) must equal b's "
                       "second-to-last (5)",
                       ShapeError);
  CHECK_THROWS_CONTAINING(matmul(Tensor::ones({3}), Tensor::ones({4})), "a's last dim (3) must equal b's size (4)",
                          ShapeError);
  CHECK_THROWS_CONTAINING(matmul(Tensor::scalar(2), Tensor::ones({2})), "at least 1 dim", ShapeError);
  CHECK_THROWS_CONTAINING(matmul(Tensor::ones({2}), Tensor::scalar(2)), "at least 1 dim", ShapeError);
  CHECK_THROWS_CONTAINING(matmul(Tensor::ones({2, 2}), Tensor::ones({2, 2}, kFloat64)),
                          "same dtype", DTypeError);
  CHECK_THROWS_CONTAINING(matmul(Tensor::randint(0, 3, {2, 2}), Tensor::randint(0, 3, {2, 2})),
                          "int64", DTypeError);
  CHECK_THROWS_CONTAINING(matmul(Tensor::ones({2, 2, 3}), Tensor::ones({4, 3, 5})),
                          "the batch dims [2] and [4] do not broadcast", ShapeError);
}

TEST_CASE("gemm: alpha, beta and the layout of out") {
  Tensor a({{1, 2}, {3, 4}}), b({{5, 6}, {7, 8}});  // a b = [[19, 22], [43, 50]]
  SUBCASE("out = 2 a b + 1 out") {
    Tensor out = Tensor::ones({2, 2});
    gemm(a, b, out, 2.0, 1.0);
    check_values(out, {39, 45, 87, 101});
  }
  SUBCASE("beta = 0 ignores NaN already in out") {
    Tensor out = Tensor::full({2, 2}, NAN);
    gemm(a, b, out);
    check_values(out, {19, 22, 43, 50});
  }
  SUBCASE("a transposed out is filled through C^T = B^T A^T") {
    Tensor storage = Tensor::zeros({2, 2});
    gemm(a, b, storage.t());
    check_values(storage, {19, 43, 22, 50});
  }
  SUBCASE("an out BLAS cannot write (every other column) goes through scratch") {
    Tensor storage = Tensor::zeros({2, 4});
    gemm(a, b, storage.slice(1, 0, 4, 2));
    check_values(storage, {19, 0, 22, 0, 43, 0, 50, 0});
  }
  SUBCASE("K == 0 scales out by beta") {
    Tensor out = Tensor::full({2, 2}, 3);
    gemm(Tensor::ones({2, 0}), Tensor::ones({0, 2}), out, 1.0, 0.5);
    check_values(out, {1.5, 1.5, 1.5, 1.5});
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(gemm(Tensor::ones({2}), b, Tensor::ones({2, 2})), "must be 2-D", ShapeError);
    CHECK_THROWS_CONTAINING(gemm(a, Tensor::ones({3, 2}), Tensor::ones({2, 2})),
                            "a's last dim (2) must equal b's first (3)", ShapeError);
    CHECK_THROWS_CONTAINING(gemm(a, b, Tensor::ones({2, 3})), "out must be [2, 2]", ShapeError);
    CHECK_THROWS_CONTAINING(gemm(a, b, Tensor::ones({2, 2}, kFloat64)), "same dtype", DTypeError);
  }
  SUBCASE("BLAS reports itself") {
    CHECK(blas_threads() >= 1);
#ifdef HEED_REFERENCE_KERNELS
    CHECK(blas_info().find("reference") != std::string::npos);  // no BLAS in this build: the plain loops
#else
    CHECK(blas_info().find("OpenBLAS") != std::string::npos);
#endif
  }
}

TEST_CASE("gemm: a product big enough to be split between the threads") {
  // M = 100 rows, 560,000 multiply-adds: above the size where gemm splits C's rows
  // into one share per thread (ops/blas.cpp), and M is no multiple of the 16-row
  // blocks the shares are cut in, so the last share is short. Each operand is
  // read both as stored and transposed, since a transposed A's rows start in a
  // different place. float64, so the oracle can be strict.
  manual_seed(11);
  const int64_t M = 100, N = 70, K = 80;
  const int saved_threads = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);  // 3: three shares of 48, 48 and 4 rows
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = ta ? randn64({K, M}).t() : randn64({M, K});
        Tensor b = tb ? randn64({N, K}).t() : randn64({K, N});
        Tensor out = randn64({M, N});
        Tensor before = out.clone();
        gemm(a, b, out, 0.5, 2.0);
        INFO(threads << " threads, a " << (ta ? "transposed" : "as stored") << ", b "
                     << (tb ? "transposed" : "as stored"));
        int64_t bad = 0;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j)
            if (std::abs(out.at({i, j}) - (0.5 * naive_entry(a, b, i, j) + 2.0 * before.at({i, j}))) > 1e-10) ++bad;
        CHECK(bad == 0);
      }
  }
  omp_set_num_threads(saved_threads);
}

TEST_CASE("gemm_pair: two products side by side, each as gemm alone") {
  // Both big enough to split ([100, 80] x [80, 70] and [96, 70] x [70, 80]), so
  // with 2 or 3 threads each gets its own threads (3: two blocks of 64 and 36 rows
  // for the first, one of 96 for the second). The second writes a transposed out
  // (its C^T = B^T A^T path); out starts as NaN, which beta = 0 must not keep.
  manual_seed(12);
  const int saved_threads = omp_get_max_threads();
  auto count_bad = [](const Tensor& a, const Tensor& b, const Tensor& out) {
    int64_t bad = 0;
    for (int64_t i = 0; i < out.size(0); ++i)
      for (int64_t j = 0; j < out.size(1); ++j) bad += !(std::abs(out.at({i, j}) - naive_entry(a, b, i, j)) <= 1e-10);
    return bad;
  };
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (bool transposed : {false, true}) {
      INFO(threads << " threads, operands " << (transposed ? "transposed" : "as stored"));
      Tensor a1 = transposed ? randn64({80, 100}).t() : randn64({100, 80});
      Tensor b1 = transposed ? randn64({70, 80}).t() : randn64({80, 70});
      Tensor a2 = randn64({96, 70}), b2 = transposed ? randn64({80, 70}).t() : randn64({70, 80});
      Tensor out1 = Tensor::full({100, 70}, NAN, kFloat64), out2_storage = Tensor::full({80, 96}, NAN, kFloat64);
      gemm_pair(a1, b1, out1, a2, b2, out2_storage.t());
      CHECK(count_bad(a1, b1, out1) == 0);
      CHECK(count_bad(a2, b2, out2_storage.t()) == 0);
    }
  }
  omp_set_num_threads(saved_threads);
  SUBCASE("errors name the product's shapes") {
    Tensor a = Tensor::ones({2, 2});
    CHECK_THROWS_CONTAINING(gemm_pair(a, a, a, a, Tensor::ones({3, 2}), a),
                            "a's last dim (2) must equal b's first (3)", ShapeError);
  }
}

TEST_CASE("matmul and linear: both gradients of a big 2-D product at once (gemm_pair)") {
  // Big enough for gemm_pair to run dA and dB side by side. Each gradient must
  // equal its product done alone, also for an operand that is a transposed view
  // (its gradient is made in that layout, then handed back through the view).
  manual_seed(13);
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(2);
  const int64_t M = 128, K = 96, N = 80;
  Tensor R = randn64({M, N});  // the loss sum(y * R) makes dy = R
  for (bool a_transposed : {false, true}) {
    CAPTURE(a_transposed);
    Tensor leaf = (a_transposed ? randn64({K, M}) : randn64({M, K})).requires_grad_();
    Tensor a = a_transposed ? leaf.t() : leaf;
    Tensor b = randn64({K, N}).requires_grad_();
    (matmul(a, b) * R).sum().backward();
    NoGradGuard no_grad;
    const Tensor da = matmul(R, b.t()), db = matmul(a.t(), R);
    check_values(leaf.grad(), (a_transposed ? da.t() : da).to_vector<double>(), 1e-12);
    check_values(b.grad(), db.to_vector<double>(), 1e-12);
  }
  Tensor x = randn64({M, K}).requires_grad_(), w = randn64({N, K}).requires_grad_();
  (linear(x, w, Tensor()) * R).sum().backward();
  NoGradGuard no_grad;
  check_values(x.grad(), matmul(R, w).to_vector<double>(), 1e-12);
  check_values(w.grad(), matmul(R.t(), x).to_vector<double>(), 1e-12);
  omp_set_num_threads(saved_threads);
}

TEST_CASE("matmul float32 at 1024 against a double-precision loop") {
  manual_seed(7);
  const int64_t n = 1024;
  Tensor a = Tensor::randn({n, n}), b = Tensor::randn({n, n});
  Tensor y = matmul(a, b);
  // Float32 rounding grows with K; bound the error relative to sum_k |a_ik b_kj|,
  // the scale the products are summed at. A wrong element is off by O(1) of it.
  auto check_entry = [&](int64_t i, int64_t j) {
    double exact = naive_entry(a, b, i, j), scale = 0;
    for (int64_t k = 0; k < n; ++k) scale += std::abs(a.at({i, k}) * b.at({k, j}));
    INFO("entry (" << i << ", " << j << ")");
    CHECK(std::abs(y.at({i, j}) - exact) <= 2e-5 * scale);
  };
  for (int64_t j = 0; j < n; j += 7) check_entry(0, j);         // a row
  for (int64_t i = 0; i < n; i += 7) check_entry(i, n - 1);     // a column
  for (int64_t i = 0; i < n; i += 3) check_entry(i, (i * 37) % n);  // scattered
}

TEST_CASE("matmul over many small matrices (the OpenMP batch loop)") {
  // 512 products of 8x8 matrices: each is too small for BLAS threads, so the batch
  // loop is split across threads; every entry must still land in its own slice.
  Tensor a = Tensor::randn({512, 8, 8}, kFloat64), b = Tensor::randn({512, 8, 8}, kFloat64);
  Tensor y = matmul(a, b.transpose(-1, -2));
  int64_t wrong = 0;
  for (int64_t i = 0; i < 512; ++i) {
    Tensor ai = a.select(0, i), bi = b.select(0, i).t(), yi = y.select(0, i);
    for (int64_t m = 0; m < 8; ++m)
      for (int64_t n = 0; n < 8; ++n)
        wrong += std::abs(yi.at({m, n}) - naive_entry(ai, bi, m, n)) > 1e-12 * (1 + std::abs(yi.at({m, n})));
  }
  CHECK(wrong == 0);
}

TEST_CASE("matmul backward through sum(): an expanded dy (stride 0) is read correctly") {
  // sum()'s gradient is ones expanded with stride 0, which BLAS cannot read; the
  // backward copies it once. dA = 1 B^T (every row the row sums of B), dB = A^T 1.
  Tensor a = Tensor({{1, 2, 3}, {4, 5, 6}}, kFloat64).requires_grad_();
  Tensor b = Tensor({{1, -1}, {2, 0}, {0.5, 3}}, kFloat64).requires_grad_();
  matmul(a, b).sum().backward();
  check_values(a.grad(), {0, 2, 3.5, 0, 2, 3.5});
  check_values(b.grad(), {5, 5, 7, 7, 9, 9});
  Tensor a3 = Tensor::arange(12, kFloat64).reshape({2, 2, 3}).requires_grad_();
  Tensor b3 = b.detach().clone().requires_grad_();
  matmul(a3, b3).sum().backward();  // b shared by the batch: db = sum over all 4 rows of a
  check_values(b3.grad(), {18, 18, 22, 22, 26, 26});
  check_values(a3.grad(), {0, 2, 3.5, 0, 2, 3.5, 0, 2, 3.5, 0, 2, 3.5});
}

// ---- linear -----------------------------------------------------------------------

TEST_CASE("linear values against PyTorch (torch.nn.functional.linear)") {
  SUBCASE("2-D x with bias, float64: y, dx, dW, db") {
    Tensor x = Tensor({{1, 2, 3}, {-1, 0.5, 2}}, kFloat64).requires_grad_();
    Tensor w = Tensor({{0.1, -0.2, 0.3}, {0.4, 0.5, -0.6}}, kFloat64).requires_grad_();
    Tensor b = Tensor({0.5, -1}, kFloat64).requires_grad_();
    Tensor y = linear(x, w, b);
    CHECK(y.shape() == Shape{2, 2});
    check_values(y, {1.1, -1.4, 0.9, -2.35}, 1e-12);
    y.backward(Tensor({{1, 2}, {-1, 0.5}}, kFloat64));
    check_values(x.grad(), {0.9, 0.8, -0.9, 0.1, 0.45, -0.6}, 1e-12);
    check_values(w.grad(), {2, 1.5, 1, 1.5, 4.25, 7}, 1e-12);
    check_values(b.grad(), {0, 2.5}, 1e-12);
  }
  Tensor w3 = Tensor({{1, 0, -1}, {0.5, 0.5, 0.5}});
  SUBCASE("3-D x without bias, float32: the leading dims fold into rows") {
    Tensor x = Tensor::arange(12).reshape({2, 2, 3}) * 0.5 - 1;
    Tensor y = linear(x, w3);
    CHECK(y.shape() == Shape{2, 2, 2});
    CHECK(y.dtype() == kFloat32);
    check_values(y, {-1, -0.75, -1, 1.5, -1, 3.75, -1, 6});
  }
  SUBCASE("1-D x [in] gives y [out]") {
    Tensor y = linear(Tensor({1, 2, 3}), w3, Tensor({1, -1}));
    CHECK(y.shape() == Shape{2});
    check_values(y, {-1, 2});
  }
  SUBCASE("agrees with matmul(x, W^T) + b on views: transposed x, sliced x, transposed W, strided bias") {
    manual_seed(3);
    Tensor w = Tensor::randn({7, 5}), b = Tensor::randn({14}).slice(0, 0, 14, 2);
    auto same = [&](const Tensor& x, const Tensor& weight) {
      Tensor expected = matmul(x, weight.t()) + b;
      check_values(linear(x, weight, b), expected.to_vector<double>(), 1e-5);
    };
    same(Tensor::randn({5, 4}).t(), w);                            // 2-D x read with a transpose flag
    same(Tensor::randn({3, 5, 4}).transpose(1, 2), w);             // 3-D x copied, then folded
    same(Tensor::randn({4, 10}).slice(1, 0, 10, 2), w);            // every other column of x
    same(Tensor::randn({2, 3, 5}), Tensor::randn({5, 7}).t());     // W itself a transposed view
    same(Tensor::randn({70, 5}), w);                               // several rows through one gemm
  }
}

TEST_CASE("linear gradients (float64 gradcheck)") {
  auto with_bias = [](const TensorList& t) { return linear(t[0], t[1], t[2]); };
  auto no_bias = [](const TensorList& t) { return linear(t[0], t[1]); };
  SUBCASE("2-D, with and without bias") {
    CHECK(grad_ok(with_bias, {randn64({4, 3}), randn64({2, 3}), randn64({2})}));
    CHECK(grad_ok(no_bias, {randn64({4, 3}), randn64({2, 3})}));
  }
  SUBCASE("1-D x and 3-D x") {
    CHECK(grad_ok(with_bias, {randn64({3}), randn64({2, 3}), randn64({2})}));
    CHECK(grad_ok(with_bias, {randn64({2, 3, 4}), randn64({5, 4}), randn64({5})}));
    CHECK(grad_ok(no_bias, {randn64({2, 1, 3, 4}), randn64({2, 4})}));
  }
  SUBCASE("non-contiguous x: transposed (2-D and 3-D) and sliced") {
    CHECK(grad_ok([](const TensorList& t) { return linear(t[0].t(), t[1], t[2]); },
                  {randn64({3, 4}), randn64({2, 3}), randn64({2})}));
    CHECK(grad_ok([](const TensorList& t) { return linear(t[0].transpose(0, 1), t[1], t[2]); },
                  {randn64({3, 2, 4}), randn64({2, 4}), randn64({2})}));
    CHECK(grad_ok([](const TensorList& t) { return linear(t[0].slice(1, 0, 6, 2), t[1]); },
                  {randn64({4, 6}), randn64({2, 3})}));
  }
  SUBCASE("a weight that is a transposed view, a strided bias") {
    CHECK(grad_ok([](const TensorList& t) { return linear(t[0], t[1].t(), t[2].slice(0, 0, 4, 2)); },
                  {randn64({2, 3, 4}), randn64({4, 2}), randn64({4})}));
  }
  SUBCASE("backward through sum(): dy is ones expanded with stride 0") {
    Tensor x = Tensor({{1, 2}, {3, 4}, {5, 6}}, kFloat64).requires_grad_();
    Tensor w = Tensor({{1, -1}, {0.5, 2}}, kFloat64).requires_grad_();
    Tensor b = Tensor({0, 0}, kFloat64).requires_grad_();
    linear(x, w, b).sum().backward();
    check_values(x.grad(), {1.5, 1, 1.5, 1, 1.5, 1});  // every row: the column sums of W
    check_values(w.grad(), {9, 12, 9, 12});            // every row: the column sums of x
    check_values(b.grad(), {3, 3});                    // one per row
  }
  SUBCASE("only the inputs that need a gradient get one") {
    Tensor x = randn64({3, 4}), w = randn64({2, 4}).requires_grad_(), b = randn64({2});
    Tensor dy = randn64({3, 2});
    linear(x, w, b).backward(dy);
    CHECK_FALSE(x.grad().defined());
    CHECK_FALSE(b.grad().defined());
    check_values(w.grad(), matmul(dy.t(), x).to_vector<double>(), 1e-12);
    Tensor x2 = randn64({3, 4}).requires_grad_(), w2 = randn64({2, 4});
    linear(x2, w2).backward(dy);
    CHECK_FALSE(w2.grad().defined());
    check_values(x2.grad(), matmul(dy, w2).to_vector<double>(), 1e-12);
  }
  SUBCASE("a saved input modified in place is caught") {
    Tensor x = randn64({3, 4}), w = randn64({2, 4}).requires_grad_();
    Tensor y = linear(x, w);
    x.mul_(2.0);  // the backward would compute dW from the new values
    CHECK_THROWS_CONTAINING(y.sum().backward(), "linear: a tensor of shape [3, 4] saved for backward",
                            AutogradError);
  }
}

TEST_CASE("linear with empty dims: no BLAS call with a bad leading dim") {
  SUBCASE("no rows: y is [0, out]; dW and db are zeros") {
    Tensor x = Tensor::ones({0, 3}, kFloat64).requires_grad_();
    Tensor w = Tensor::ones({2, 3}, kFloat64).requires_grad_(), b = Tensor::ones({2}, kFloat64).requires_grad_();
    Tensor y = linear(x, w, b);
    CHECK(y.shape() == Shape{0, 2});
    y.backward(Tensor::ones({0, 2}, kFloat64));
    CHECK(x.grad().shape() == Shape{0, 3});
    check_values(w.grad(), std::vector<double>(6, 0.0));
    check_values(b.grad(), {0, 0});
    CHECK(linear(Tensor::ones({2, 0, 3}), Tensor::ones({2, 3})).shape() == Shape{2, 0, 2});
  }
  SUBCASE("in == 0: y is the bias in every row (an empty sum), or zeros") {
    Tensor x = Tensor::ones({3, 0}, kFloat64).requires_grad_();
    Tensor w = Tensor::ones({2, 0}, kFloat64).requires_grad_(), b = Tensor({1, -2}, kFloat64).requires_grad_();
    Tensor y = linear(x, w, b);
    check_values(y, {1, -2, 1, -2, 1, -2});
    check_values(linear(Tensor::ones({3, 0}), Tensor::ones({2, 0})), std::vector<double>(6, 0.0));
    y.backward(Tensor({{1, 2}, {3, 4}, {5, 6}}, kFloat64));
    CHECK(x.grad().shape() == Shape{3, 0});
    CHECK(w.grad().shape() == Shape{2, 0});
    check_values(b.grad(), {9, 12});
  }
  SUBCASE("out == 0: y is [rows, 0]; dx is zeros") {
    Tensor x = Tensor::ones({3, 2}, kFloat64).requires_grad_();
    Tensor w = Tensor::ones({0, 2}, kFloat64).requires_grad_();
    Tensor y = linear(x, w, Tensor::ones({0}, kFloat64));
    CHECK(y.shape() == Shape{3, 0});
    y.backward(Tensor::ones({3, 0}, kFloat64));
    check_values(x.grad(), std::vector<double>(6, 0.0));
    CHECK(w.grad().shape() == Shape{0, 2});
  }
}

TEST_CASE("linear is one graph node: nn::Linear's output points straight at x and the parameters") {
  nn::Linear layer(4, 3);
  Tensor x0 = Tensor::randn({2, 4}).requires_grad_();
  Tensor x = tanh(x0);
  Tensor y = layer(x);
  REQUIRE(y.grad_fn());
  const Node& node = *y.grad_fn();
  CHECK(node.name() == "linear");
  REQUIRE(node.next_edges().size() == 3);
  CHECK(node.next_edges()[0].node == x.grad_fn());  // no transpose, matmul or add in between
  CHECK(node.next_edges()[1].node == gradient_edge(layer.weight));
  CHECK(node.next_edges()[2].node == gradient_edge(layer.bias));
  CHECK(node.next_edges()[1].node->name() == "AccumulateGrad");
  CHECK(node.next_edges()[2].node->name() == "AccumulateGrad");

  nn::Linear no_bias(4, 3, /*bias=*/false);
  Tensor z = no_bias(Tensor::randn({2, 4}));  // x needs no gradient: its edge is empty
  REQUIRE(z.grad_fn());
  REQUIRE(z.grad_fn()->next_edges().size() == 2);
  CHECK(z.grad_fn()->next_edges()[0].node == nullptr);
  CHECK(z.grad_fn()->next_edges()[1].node == gradient_edge(no_bias.weight));
  {
    NoGradGuard no_grad;
    CHECK_FALSE(layer(x).grad_fn());
  }
}

TEST_CASE("linear errors") {
  Tensor x = Tensor::ones({2, 3}), w = Tensor::ones({4, 3}), b = Tensor::ones({4});
  CHECK_THROWS_WITH_AS(linear(Tensor::ones({2, 5}), w, b),
                       "linear: x is [2, 5], weight is [4, 3], bias is [4]; x's last dim (5) must equal "
                       "weight's dim 1, the in_features (3)",
                       ShapeError);
  CHECK_THROWS_CONTAINING(linear(Tensor::scalar(1), w), "linear: x is [], weight is [4, 3]; x needs at least 1 dim",
                          ShapeError);
  CHECK_THROWS_CONTAINING(linear(x, Tensor::ones({3})), "linear: x is [2, 3], weight is [3]; weight must be 2-D",
                          ShapeError);
  CHECK_THROWS_CONTAINING(linear(x, Tensor::ones({1, 4, 3})), "weight must be 2-D", ShapeError);
  CHECK_THROWS_CONTAINING(linear(x, w, Tensor::ones({3})),
                          "linear: x is [2, 3], weight is [4, 3], bias is [3]; bias must be [out_features], here [4]",
                          ShapeError);
  CHECK_THROWS_CONTAINING(linear(x, w, Tensor::ones({1, 4})), "bias is [1, 4]", ShapeError);
  CHECK_THROWS_CONTAINING(linear(x, w.to(kFloat64)),
                          "linear: x is float32, weight is float64; all must have the same dtype", DTypeError);
  CHECK_THROWS_CONTAINING(linear(x, w, b.to(kFloat64)), "bias is float64", DTypeError);
  CHECK_THROWS_CONTAINING(linear(Tensor::randint(0, 3, {2, 3}), Tensor::randint(0, 3, {4, 3})), "linear",
                          DTypeError);
}

TEST_CASE("linear: the bias gradient of a large batch (column sums split across threads)") {
  // 600 rows x 130 outputs: above the parallel grain, three column blocks, the last partial.
  manual_seed(11);
  Tensor x = Tensor::randn({600, 7});
  Tensor w = Tensor::randn({130, 7}).requires_grad_();
  Tensor b = Tensor::randn({130}).requires_grad_();
  Tensor dy = Tensor::randn({600, 130});
  linear(x, w, b).backward(dy);
  const std::vector<double> got = b.grad().to_vector<double>();
  const std::vector<double> rows = dy.to_vector<double>();
  for (int64_t c = 0; c < 130; ++c) {
    double expected = 0;
    for (int64_t r = 0; r < 600; ++r) expected += rows[static_cast<size_t>(r * 130 + c)];
    CHECK(got[static_cast<size_t>(c)] == doctest::Approx(expected).epsilon(1e-6));
  }
}

TEST_CASE("small_gemm: matrix times one column, contiguous or strided, matches a plain double loop") {
  // [m, k] x [k, 1]: a contiguous column (stride 1) takes the dot-product loops,
  // a strided one (a column sliced out of a wider matrix) stays with BLAS.
  manual_seed(6);
  for (DType dt : {kFloat32, kFloat64}) {
    for (auto mk : std::vector<std::pair<int64_t, int64_t>>{{10, 50}, {3, 1}, {7, 9}}) {
      const int64_t m = mk.first, k = mk.second;  // not a structured binding: CAPTURE's lambda uses them
      for (bool ta : {false, true}) {
        for (bool strided : {false, true}) {
          CAPTURE(m); CAPTURE(k); CAPTURE(ta); CAPTURE(strided);
          Tensor a = ta ? Tensor::randn({k, m}, dt).t() : Tensor::randn({m, k}, dt);
          Tensor b = strided ? Tensor::randn({k, 4}, dt).slice(1, 2, 3) : Tensor::randn({k, 1}, dt);
          Tensor c = Tensor::full({m, 1}, std::nan(""), dt);
          gemm(a, b, c);
          const std::vector<double> av = a.contiguous().to_vector<double>(), bv = b.to_vector<double>();
          const std::vector<double> got = c.to_vector<double>();
          for (int64_t i = 0; i < m; ++i) {
            double dot = 0;
            for (int64_t p = 0; p < k; ++p) dot += av[static_cast<size_t>(i * k + p)] * bv[static_cast<size_t>(p)];
            CHECK(got[static_cast<size_t>(i)] == doctest::Approx(dot).epsilon(dt == kFloat32 ? 1e-5 : 1e-12));
          }
        }
      }
    }
  }
}

TEST_CASE("small_gemm: one-row products in every layout match a plain double loop") {
  // gemm sends a one-row product to ops/kernels/fast/small_gemm.cpp; check it directly, in both
  // dtypes, both transposes, with row strides (lda, ldb, ldc) larger than the rows.
  manual_seed(5);
  for (DType dt : {kFloat32, kFloat64}) {
    // n: under the 4 columns taken at once and the blocks of 32, both with a
    // remainder (10, 33), two blocks (70).
    const std::vector<std::pair<int64_t, int64_t>> sizes{{1, 1},   {10, 10}, {5, 10}, {20, 128},
                                                         {33, 7},  {70, 9},  {2, 700}};
    for (auto nk : sizes) {
      const int64_t n = nk.first, k = nk.second;  // not a structured binding: CAPTURE's lambda uses them
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          for (double beta : {0.0, 1.0, 0.5}) {
            CAPTURE(n); CAPTURE(k); CAPTURE(ta); CAPTURE(tb); CAPTURE(beta);
            // Stored with an extra 3 columns, so each leading dimension exceeds the row length.
            Tensor a_store = Tensor::randn(ta ? Shape{k, 1 + 3} : Shape{1, k + 3}, dt);
            Tensor b_store = Tensor::randn(tb ? Shape{n, k + 3} : Shape{k, n + 3}, dt);
            Tensor a = ta ? a_store.slice(1, 0, 1).t() : a_store.slice(1, 0, k);   // [1, k]
            Tensor b = tb ? b_store.slice(1, 0, k).t() : b_store.slice(1, 0, n);   // [k, n]
            Tensor c_store = Tensor::randn({1, n + 3}, dt);
            Tensor c = c_store.slice(1, 0, n);
            if (beta == 0) c.fill_(std::nan(""));  // beta 0 must ignore what is there
            const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
            const std::vector<double> c0 = c.to_vector<double>();
            gemm(a, b, c, 2.0, beta);
            const std::vector<double> got = c.to_vector<double>();
            // Within 1e-5 (float) of the sum of the terms' sizes: a sum of k terms that
            // cancel to a small result carries the roundings of its large partial sums.
            for (int64_t j = 0; j < n; ++j) {
              double dot = 0, size = 0;
              for (int64_t p = 0; p < k; ++p) {
                const double term = av[static_cast<size_t>(p)] * bv[static_cast<size_t>(p * n + j)];
                dot += term;
                size += std::abs(term);
              }
              const double old_part = beta == 0 ? 0.0 : beta * c0[static_cast<size_t>(j)];
              const double expected = 2.0 * dot + old_part;
              const double bound = (dt == kFloat32 ? 1e-5 : 1e-12) * (2.0 * size + std::abs(old_part));
              CHECK(std::abs(got[static_cast<size_t>(j)] - expected) <= bound);
            }
          }
        }
      }
    }
  }
}
