// The fast matrix product kernels (ops/kernels/fast/gemm.cpp: plain loops for one
// row, OpenBLAS with heed's threads for the rest) against the reference loops.
//
// Tolerance: both sum the same products in different orders, so an entry may
// differ by a few roundings of the largest partial sums. Each entry is checked
// against the bound sum_p |a_ip b_pj| of its own terms: |fast - ref| <= tol times
// it, tol 1e-5 for float (eps 6e-8, times K up to a thousand terms, with room)
// and 1e-12 for double.
#include <cmath>
#include <cstring>
#include <tuple>

#include "heed/ops/kernels/fast/few_rows_gemm.h"
#include "heed/ops/kernels/fast/wide_gemm.h"
#include "heed/ops/kernels/gemm.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

// One product's operands, stored with 3 spare elements per row, so that every
// leading dimension is larger than the row it holds.
template <class T>
struct Case {
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> a, b, c;

  Case(bool ta_, bool tb_, int64_t M_, int64_t N_, int64_t K_, double beta_, uint64_t seed)
      : ta(ta_), tb(tb_), M(M_), N(N_), K(K_), alpha(T(2)), beta(static_cast<T>(beta_)) {
    lda = (ta ? M : K) + 3;
    ldb = (tb ? K : N) + 3;
    ldc = N + 3;
    a = random_values<T>((ta ? K : M) * lda, seed);
    b = random_values<T>((tb ? N : K) * ldb, seed + 1);
    c = random_values<T>(M * ldc, seed + 2);
    if (beta == T(0)) std::fill(c.begin(), c.end(), std::nan(""));  // beta 0 must not read C
  }
  kernels::GemmArgs<T> args(std::vector<T>& out) const {
    return {ta, tb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, out.data(), ldc};
  }
  // The bound each entry's error is measured against: the product of the absolute values.
  std::vector<T> bound() const {
    std::vector<T> abs_a(a.size()), abs_b(b.size()), abs_c(c.size()), out(c.size(), T(0));
    for (size_t i = 0; i < a.size(); ++i) abs_a[i] = std::abs(a[i]);
    for (size_t i = 0; i < b.size(); ++i) abs_b[i] = std::abs(b[i]);
    for (size_t i = 0; i < c.size(); ++i) abs_c[i] = beta == T(0) ? T(0) : std::abs(c[i]);
    out = abs_c;
    kernels::reference::gemm(ta, tb, M, N, K, std::abs(alpha), abs_a.data(), lda, abs_b.data(), ldb,
                             beta == T(0) ? T(0) : std::abs(beta), out.data(), ldc);
    return out;
  }
};

template <class T>
void check_entries(const std::string& what, const std::vector<T>& fast, const std::vector<T>& ref,
                   const std::vector<T>& bound, int64_t M, int64_t N, int64_t ldc) {
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  INFO(what);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const size_t k = static_cast<size_t>(i * ldc + j);
      if (std::abs(fast[k] - ref[k]) <= tol * bound[k] + 1e-30) continue;
      INFO("C[" << i << ", " << j << "]: fast " << fast[k] << ", reference " << ref[k] << ", bound " << bound[k]);
      CHECK(std::abs(fast[k] - ref[k]) <= tol * bound[k]);
      return;
    }
  // The padding between rows is never written.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < ldc; ++j) {
      const size_t k = static_cast<size_t>(i * ldc + j);
      if (!(fast[k] == ref[k] || (std::isnan(fast[k]) && std::isnan(ref[k])))) {
        CHECK_MESSAGE(false, "padding C[" << i << ", " << j << "] was written");
        return;
      }
    }
}

// (M, N, K): every combination of the small sizes, and each dim long once.
std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes() {
  std::vector<std::tuple<int64_t, int64_t, int64_t>> s;
  for (int64_t M : {1, 7, 8, 9, 33})
    for (int64_t N : {1, 7, 8, 9, 33})
      for (int64_t K : {1, 7, 8, 9, 33}) s.emplace_back(M, N, K);
  s.emplace_back(1000, 9, 33);
  s.emplace_back(7, 1000, 8);
  s.emplace_back(33, 9, 1000);
  s.emplace_back(1, 1000, 1000);  // one row: the plain-loop path
  s.emplace_back(1000, 1, 33);    // one column
  s.emplace_back(200, 150, 120);  // big enough to split between the threads
  s.emplace_back(2, 768, 256);    // few multiply-adds, but B too big to read on one thread: split by columns
  return s;
}

template <class T>
void run_all(uint64_t seed) {
  for (auto [M, N, K] : shapes())
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (double beta : {0.0, 1.0, 0.5}) {
          const Case<T> c(ta, tb, M, N, K, beta, seed++);
          std::vector<T> fast = c.c, ref = c.c;
          kernels::fast::gemm(ta, tb, M, N, K, c.alpha, c.a.data(), c.lda, c.b.data(), c.ldb, c.beta, fast.data(),
                              c.ldc);
          kernels::reference::gemm(ta, tb, M, N, K, c.alpha, c.a.data(), c.lda, c.b.data(), c.ldb, c.beta,
                                   ref.data(), c.ldc);
          check_entries(msg("gemm M ", M, " N ", N, " K ", K, ta ? " A^T" : "", tb ? " B^T" : "", " beta ", beta),
                        fast, ref, c.bound(), M, N, c.ldc);
        }
}

}  // namespace

TEST_CASE("kernels/gemm: fast equals reference, every layout and size, 1 to 3 threads") {
  with_threads({1, 2, 3}, [&] {
    run_all<float>(100);
    run_all<double>(200);
  });
}

TEST_CASE("kernels/gemm: K = 0 scales C by beta, and empty products write nothing") {
  for (double beta : {0.0, 0.5}) {
    std::vector<double> fast(12, 3.0), ref(12, 3.0);
    const double dummy = 0;
    kernels::fast::gemm(false, false, 3, 4, 0, 1.0, &dummy, 1, &dummy, 4, beta, fast.data(), 4);
    kernels::reference::gemm(false, false, 3, 4, 0, 1.0, &dummy, 1, &dummy, 4, beta, ref.data(), 4);
    check_kernel("K = 0", fast, ref, 0, 0);
    CHECK(fast[0] == 3.0 * beta);
  }
  std::vector<float> c(4, 7.0f);
  kernels::fast::gemm(false, false, 0, 4, 3, 1.0f, c.data(), 3, c.data(), 4, 0.0f, c.data(), 4);
  kernels::fast::gemm(false, false, 1, 0, 3, 1.0f, c.data(), 3, c.data(), 1, 0.0f, c.data(), 1);
  CHECK(c == std::vector<float>(4, 7.0f));
}

TEST_CASE("kernels/gemm_pair and gemm_batch: fast equals reference") {
  with_threads({1, 2, 3}, [&] {
    // A pair big enough to run side by side, and a small one (one after the other).
    for (auto [M, N, K] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{200, 150, 120}, {9, 7, 33}}) {
      const Case<double> x(false, true, M, N, K, 0.0, 7), y(true, false, N, M, K, 0.0, 9);
      std::vector<double> fx = x.c, fy = y.c, rx = x.c, ry = y.c;
      kernels::fast::gemm_pair(x.args(fx), y.args(fy));
      kernels::reference::gemm_pair(x.args(rx), y.args(ry));
      check_entries(msg("pair, first, M ", M), fx, rx, x.bound(), x.M, x.N, x.ldc);
      check_entries(msg("pair, second, M ", M), fy, ry, y.bound(), y.M, y.N, y.ldc);
    }
    // A batch of 5 entries of [9, 33] x [33, 8]; entry e of b is entry e % 2 (a broadcast operand).
    for (int64_t count : {1, 5, 64}) {
      const int64_t M = 9, K = 33, N = 8;
      std::vector<float> a = random_values<float>(count * M * K, 3), b = random_values<float>(2 * K * N, 4);
      std::vector<int64_t> ao(count), bo(count);
      for (int64_t e = 0; e < count; ++e) ao[e] = e * M * K, bo[e] = (e % 2) * K * N;
      std::vector<float> fast(count * M * N, NAN), ref(count * M * N, NAN);
      kernels::GemmArgs<float> g{false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, fast.data(), N};
      kernels::fast::gemm_batch(g, count, ao.data(), bo.data());
      g.c = ref.data();
      kernels::reference::gemm_batch(g, count, ao.data(), bo.data());
      check_kernel(msg("batch of ", count), fast, ref, 1e-5, 1e-5);
    }
  });
}

namespace {
// The entries of `fast` that are off, for a product computed on columns
// [j0, j1) of C only: inside the block, further from the reference `ref` than
// 1e-5 of the entry's bound; outside it, anything but C as it was, bit for bit.
int64_t entries_off_block(const Case<float>& x, const std::vector<float>& fast, const std::vector<float>& ref,
                          int64_t j0, int64_t j1) {
  const std::vector<float> bound = x.bound();
  int64_t off = 0;
  for (int64_t i = 0; i < x.M; ++i)
    for (int64_t j = 0; j < x.ldc; ++j) {
      const size_t k = static_cast<size_t>(i * x.ldc + j);
      const bool inside = j >= j0 && j < j1;
      const bool ok = inside ? std::abs(fast[k] - ref[k]) <= 1e-5 * bound[k] + 1e-30
                             : std::memcmp(&fast[k], &x.c[k], sizeof(float)) == 0;
      off += ok ? 0 : 1;
    }
  return off;
}
}  // namespace

// A few rows times a big matrix (ops/kernels/fast/few_rows_gemm.h), both forms
// called directly on a block of C's columns, as a thread of a cut product
// makes them: inside the block the reference's numbers, outside it C as it was.
// Rows that fill one panel, two, a panel and a half, and neither (31, 33);
// columns and depths that are not whole panels or tiles. (The form for B
// stored [K, N] is taken for alpha == 1 only.)
TEST_CASE("kernels/few_rows_gemm: both forms, on any block of columns, equal the reference") {
  uint64_t seed = 900;
  const std::vector<std::pair<int64_t, int64_t>> sizes{{128, 128}, {130, 257}, {512, 160}, {300, 64}};
  for (bool tb : {false, true})
    for (int64_t M : {16, 24, 31, 32, 33, 48, 64})
      for (const auto& size : sizes)
        for (double beta : {0.0, 1.0, 0.5}) {
          const int64_t N = size.first, K = size.second;
          Case<float> x(false, tb, M, N, K, beta, seed++);
          if (!tb) x.alpha = 1.0f;
          for (const auto& block : {std::pair<int64_t, int64_t>{0, N}, {16, N - 32}}) {
            const int64_t j0 = block.first, j1 = block.second;  // not a structured binding: INFO captures them
            std::vector<float> fast = x.c, ref = x.c;
            std::vector<float> scratch(static_cast<size_t>(kernels::fast::few_rows_scratch(tb, M, K)), NAN);
            kernels::fast::few_rows_gemm(false, tb, M, j0, j1, K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta,
                                         fast.data(), x.ldc, scratch.data());
            const float* b_block = tb ? x.b.data() + j0 * x.ldb : x.b.data() + j0;
            kernels::reference::gemm(false, tb, M, j1 - j0, K, x.alpha, x.a.data(), x.lda, b_block, x.ldb, x.beta,
                                     ref.data() + j0, x.ldc);
            INFO(msg("M ", M, " N ", N, " K ", K, tb ? " B^T" : "", " beta ", beta, ", columns ", j0, " to ", j1));
            CHECK(entries_off_block(x, fast, ref, j0, j1) == 0);
          }
        }
}

// The third form, a weight's gradient dz^T x: A stored [K, M] (K, the batch,
// its few rows), B stored [K, N], alpha 1. Rows of C that leave every tile
// height a remainder (131), columns short of half a panel at the edge (45,
// 100), and batches of 16, 32 and 100.
TEST_CASE("kernels/few_rows_gemm: A transposed, on any block of columns, equals the reference") {
  uint64_t seed = 1500;
  const std::vector<std::pair<int64_t, int64_t>> sizes{{128, 32}, {160, 32}, {45, 100}, {100, 16}};
  for (int64_t M : {128, 131, 512})
    for (const auto& size : sizes)
      for (double beta : {0.0, 1.0, 0.5}) {
        const int64_t N = size.first, K = size.second;
        Case<float> x(true, false, M, N, K, beta, seed++);
        x.alpha = 1.0f;
        for (const auto& block : {std::pair<int64_t, int64_t>{0, N}, {16, N - 13}}) {
          const int64_t j0 = block.first, j1 = block.second;  // not a structured binding: INFO captures them
          std::vector<float> fast = x.c, ref = x.c;
          std::vector<float> scratch(static_cast<size_t>(kernels::fast::few_rows_scratch(false, M, K)), NAN);
          kernels::fast::few_rows_gemm(true, false, M, j0, j1, K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb,
                                       x.beta, fast.data(), x.ldc, scratch.data());
          kernels::reference::gemm(true, false, M, j1 - j0, K, x.alpha, x.a.data(), x.lda, x.b.data() + j0, x.ldb,
                                   x.beta, ref.data() + j0, x.ldc);
          INFO(msg("M ", M, " N ", N, " K ", K, " beta ", beta, ", columns ", j0, " to ", j1));
          CHECK(entries_off_block(x, fast, ref, j0, j1) == 0);
        }
      }
}

TEST_CASE("kernels/gemm: few rows by a big matrix, through gemm on 1 to 3 threads: the same bits") {
  // The product is cut by columns between the threads; alpha 1 takes either
  // form (few_rows_gemm_wins()), alpha 2 the transposed one alone.
  uint64_t seed = 1200;
  for (bool tb : {false, true})
    for (float alpha : {1.0f, 2.0f}) {
      Case<float> x(false, tb, 32, 512, 160, 1.0, seed++);
      x.alpha = alpha;
      std::vector<std::vector<float>> outs;
      with_threads({1, 2, 3}, [&] {
        std::vector<float> out = x.c;
        kernels::fast::gemm(false, tb, x.M, x.N, x.K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta,
                            out.data(), x.ldc);
        outs.push_back(out);
      });
      std::vector<float> ref = x.c;
      kernels::reference::gemm(false, tb, x.M, x.N, x.K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta,
                               ref.data(), x.ldc);
      check_entries(msg("gemm 32 x 512 x 160", tb ? " B^T" : "", " alpha ", alpha), outs[0], ref, x.bound(), x.M,
                    x.N, x.ldc);
      CHECK(std::memcmp(outs[1].data(), outs[0].data(), outs[0].size() * sizeof(float)) == 0);
      CHECK(std::memcmp(outs[2].data(), outs[0].data(), outs[0].size() * sizeof(float)) == 0);
    }
  // A weight's gradient dz^T x, and two side by side as an LSTM cell's
  // backward makes them (few_rows_gemm's third form where OpenBLAS's kernels
  // are narrower than the CPU's, BLAS elsewhere: the same bits on any thread
  // count either way).
  Case<float> w_ih(true, false, 512, 160, 32, 1.0, seed++), w_hh(true, false, 512, 128, 32, 0.0, seed++);
  w_ih.alpha = w_hh.alpha = 1.0f;
  std::vector<std::vector<float>> outs;
  with_threads({1, 2, 3}, [&] {
    std::vector<float> first = w_ih.c, second = w_hh.c;
    kernels::fast::gemm_pair(w_ih.args(first), w_hh.args(second));
    outs.push_back(first);
    outs.push_back(second);
  });
  for (int which = 0; which < 2; ++which) {
    const Case<float>& x = which == 0 ? w_ih : w_hh;
    std::vector<float> ref = x.c;
    kernels::reference::gemm(true, false, x.M, x.N, x.K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta,
                             ref.data(), x.ldc);
    check_entries(msg("pair, dz^T x, product ", which), outs[which], ref, x.bound(), x.M, x.N, x.ldc);
    CHECK(std::memcmp(outs[2 + which].data(), outs[which].data(), outs[which].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(outs[4 + which].data(), outs[which].data(), outs[which].size() * sizeof(float)) == 0);
  }
}

// A big product on panel_gemm's tile (ops/kernels/fast/wide_gemm.h), called
// directly whatever OpenBLAS runs here: every layout, beta 0 (NaN in C), 1 and
// 0.5, rows that leave a tile's remainder (33, 100), columns short of a panel
// or of half of one (45, 70), depths that are no multiple of anything (37);
// the same bits on 1, 2 and 3 threads.
TEST_CASE("kernels/wide_gemm: every layout equals the reference, the same bits on 1 to 3 threads") {
  uint64_t seed = 1700;
  using Shape = std::tuple<int64_t, int64_t, int64_t>;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const auto& [M, N, K] : {Shape{33, 45, 37}, Shape{100, 70, 64}, Shape{256, 96, 300}})
        for (double beta : {0.0, 1.0, 0.5}) {
          Case<float> x(ta, tb, M, N, K, beta, seed++);
          x.alpha = 1.0f;
          std::vector<std::vector<float>> outs;
          with_threads({1, 2, 3}, [&] {
            std::vector<float> out = x.c;
            kernels::fast::wide_gemm(ta, tb, x.M, x.N, x.K, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta, out.data(),
                                     x.ldc);
            outs.push_back(out);
          });
          std::vector<float> ref = x.c;
          kernels::reference::gemm(ta, tb, x.M, x.N, x.K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta,
                                   ref.data(), x.ldc);
          const std::string what = msg("wide_gemm ", x.M, " x ", x.N, " x ", x.K, ta ? " A^T" : "", tb ? " B^T" : "",
                                       " beta ", beta);
          check_entries(what, outs[0], ref, x.bound(), x.M, x.N, x.ldc);
          CHECK(std::memcmp(outs[1].data(), outs[0].data(), outs[0].size() * sizeof(float)) == 0);
          CHECK(std::memcmp(outs[2].data(), outs[0].data(), outs[0].size() * sizeof(float)) == 0);
        }
}

// Bitwise determinism across thread counts (tests/test_determinism.cpp) rests
// on this: fast gemm cuts a product into single-threaded BLAS calls by its
// sizes and the processor count, so 1, 2 and 3 threads make the same calls and
// give the same bits. (OpenBLAS's result for an element depends on the shape
// of the call it is computed in: a cut that followed the threads gave other
// bits for the first two shapes here, and OpenBLAS's own threads for the last.)
namespace {
// Equal bit for bit (NaN padding included, which == would call unequal).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("kernels/gemm: 1, 2 and 3 threads give the same bits, pairs and batches too") {
  uint64_t seed = 500;
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> sizes{
      {200, 150, 120}, {97, 64, 128}, {64, 512, 128}, {1030, 96, 64}, {600, 256, 40}, {40, 300, 200},
      {40, 200, 600}, {1, 768, 256}, {3, 640, 256},  // {40, 200, 600} is not cut: OpenBLAS must not thread it either
      {32, 512, 160}, {48, 300, 100}};                  // few_rows_gemm's, cut by columns
  for (const auto& size : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // Plain variables, not a structured binding: the lambdas below use them,
        // and clang 14 cannot capture a structured binding.
        const int64_t M = std::get<0>(size), N = std::get<1>(size), K = std::get<2>(size);
        const Case<float> x(ta, tb, M, N, K, 1.0, seed++), y(!ta, tb, K, N, M, 0.0, seed++);
        std::vector<std::vector<float>> outs, pairs;
        with_threads({1, 2, 3}, [&] {
          std::vector<float> out = x.c;
          kernels::fast::gemm(ta, tb, M, N, K, x.alpha, x.a.data(), x.lda, x.b.data(), x.ldb, x.beta, out.data(),
                              x.ldc);
          outs.push_back(out);
          std::vector<float> px = x.c, py = y.c;
          kernels::fast::gemm_pair(x.args(px), y.args(py));
          px.insert(px.end(), py.begin(), py.end());
          pairs.push_back(px);
        });
        INFO(msg("M ", M, " N ", N, " K ", K, ta ? " A^T" : "", tb ? " B^T" : ""));
        CHECK(same_bits(outs[1], outs[0]));
        CHECK(same_bits(outs[2], outs[0]));
        CHECK(same_bits(pairs[1], pairs[0]));
        CHECK(same_bits(pairs[2], pairs[0]));
      }
  // Batches of 5 and 8. Which way a batch goes follows the processor count,
  // and the threads must not change it: on two processors the big products of
  // 5 entries go entry by entry, cut, and those of 8 are shared out, whole.
  for (const auto& size : sizes)
    for (const int64_t count : {5, 8}) {
      const int64_t M = std::get<0>(size), N = std::get<1>(size), K = std::get<2>(size);
      const std::vector<float> a = random_values<float>(count * M * K, seed++), b = random_values<float>(K * N, seed++);
      std::vector<int64_t> ao(count), bo(count, 0);
      for (int64_t e = 0; e < count; ++e) ao[e] = e * M * K;
      std::vector<std::vector<float>> outs;
      with_threads({1, 2, 3}, [&] {
        std::vector<float> out(count * M * N);
        kernels::GemmArgs<float> g{false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, out.data(), N};
        kernels::fast::gemm_batch(g, count, ao.data(), bo.data());
        outs.push_back(out);
      });
      INFO(msg("batch of ", count, ": M ", M, " N ", N, " K ", K));
      CHECK(same_bits(outs[1], outs[0]));
      CHECK(same_bits(outs[2], outs[0]));
    }
}
