// panel_gemm (ops/kernels/fast/panel_gemm.h): products by a weight packed once,
// every copy of the tile loop this CPU runs, against a plain loop in double; and
// the promise the LSTM's threads rely on: an element's bits do not depend on
// which rows and columns the call that computed it covered.
//
// Tolerance: as in test_gemm.cpp, each entry against the bound sum_p |a_ip b_pj|
// of its own terms, 1e-5 of it for float and 1e-12 for double.
#include <cmath>
#include <cstring>
#include <vector>

#include "heed/ops/kernels/fast/panel_gemm.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
using heed::kernels::fast::kPanel;
using heed::kernels::fast::in_place;
using heed::kernels::fast::kInPlaceStep;
using heed::kernels::fast::pack_panels;
using heed::kernels::fast::packed;
using heed::kernels::fast::packed_size;
using heed::kernels::fast::panel_gemm;
using heed::kernels::fast::PanelCopy;

namespace {

// C[M, N] += A[M, K] op(B), with every leading dimension 3 past its row.
template <class T>
struct Case {
  bool tb;
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<T> a, b, c, panels;

  Case(bool tb_, int64_t M_, int64_t N_, int64_t K_, uint64_t seed)
      : tb(tb_), M(M_), N(N_), K(K_), lda(K_ + 3), ldb((tb_ ? K_ : N_) + 3), ldc(N_ + 3) {
    a = random_values<T>(M * lda, seed);
    b = random_values<T>((tb ? N : K) * ldb, seed + 1);
    c = random_values<T>(M * ldc, seed + 2);
    panels.assign(packed_size(K, N), T(0));
    pack_panels(tb, K, N, b.data(), ldb, panels.data());
  }
  T op_b(int64_t p, int64_t j) const { return tb ? b[j * ldb + p] : b[p * ldb + j]; }

  // C + A op(B) in double, and each entry's bound sum_p |a_ip b_pj|.
  void expect(std::vector<double>& want, std::vector<double>& bound) const {
    want.assign(c.begin(), c.end());
    bound.assign(c.size(), 0.0);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        for (int64_t p = 0; p < K; ++p) {
          const double term = static_cast<double>(a[i * lda + p]) * op_b(p, j);
          want[i * ldc + j] += term;
          bound[i * ldc + j] += std::abs(term);
        }
  }
};

template <class T, class F>
void check_case(const Case<T>& k, F run) {
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  std::vector<double> want, bound;
  k.expect(want, bound);
  std::vector<T> c = k.c;
  run(k, c.data());
  INFO("M ", k.M, " N ", k.N, " K ", k.K, k.tb ? " B transposed" : "");
  for (size_t e = 0; e < c.size(); ++e) {
    if (std::abs(c[e] - want[e]) <= tol * (bound[e] + std::abs(k.c[e]))) continue;
    INFO("element ", e, ": ", c[e], ", want ", want[e]);
    CHECK(std::abs(c[e] - want[e]) <= tol * (bound[e] + std::abs(k.c[e])));
    return;
  }
}

// Shapes: a row, rows that leave every tile height a remainder (5, 13), a batch
// (32); columns short of a panel, one panel, a panel and a bit, several; K of 1,
// odd, and long.
const std::vector<int64_t> kRows = {1, 5, 13, 32}, kCols = {1, 17, 32, 45, 100}, kDepths = {1, 7, 64, 300};

std::vector<PanelCopy> copies_this_cpu_runs() {
  switch (heed::kernels::fast::widest_panel_copy()) {
    case PanelCopy::kAvx512:
      return {PanelCopy::kBaseline, PanelCopy::kAvx2, PanelCopy::kAvx512};
    case PanelCopy::kAvx2:
      return {PanelCopy::kBaseline, PanelCopy::kAvx2};
    case PanelCopy::kBaseline:
      break;
  }
  return {PanelCopy::kBaseline};
}

}  // namespace

TEST_CASE("kernels/panel_gemm: every copy this CPU runs equals a plain product, float and double") {
  uint64_t seed = 1;
  for (bool tb : {false, true})
    for (int64_t M : kRows)
      for (int64_t N : kCols)
        for (int64_t K : kDepths) {
          const Case<float> f(tb, M, N, K, seed += 3);
          for (PanelCopy copy : copies_this_cpu_runs()) {
            CAPTURE(static_cast<int>(copy));
            check_case(f, [&](const Case<float>& k, float* c) {
              panel_gemm(copy, false, k.M, k.N, k.K, k.a.data(), k.lda, packed(k.panels.data(), k.K), c, k.ldc);
            });
          }
          const Case<double> d(tb, M, N, K, seed += 3);
          check_case(d, [](const Case<double>& k, double* c) {
            panel_gemm(false, k.M, k.N, k.K, k.a.data(), k.lda, packed(k.panels.data(), k.K), c, k.ldc);
          });
        }
}

TEST_CASE("kernels/panel_gemm: an element's bits do not depend on the rows and columns of the call") {
  // The whole product in one call, against the same product in pieces: the rows
  // split at every count, the columns at a panel's edge (where a thread's units
  // start). Equal to the bit, for every copy.
  for (PanelCopy copy : copies_this_cpu_runs()) {
    CAPTURE(static_cast<int>(copy));
    const Case<float> k(true, 13, 100, 300, 7);
    std::vector<float> whole = k.c;
    panel_gemm(copy, false, k.M, k.N, k.K, k.a.data(), k.lda, packed(k.panels.data(), k.K), whole.data(), k.ldc);
    for (int64_t rows = 1; rows < k.M; ++rows)
      for (int64_t cols : {kPanel, 2 * kPanel, 3 * kPanel}) {
        std::vector<float> pieces = k.c;
        for (int64_t r0 : {int64_t{0}, rows})
          for (int64_t c0 : {int64_t{0}, cols}) {
            const int64_t m = r0 == 0 ? rows : k.M - rows, n = c0 == 0 ? cols : k.N - cols;
            panel_gemm(copy, false, m, n, k.K, k.a.data() + r0 * k.lda, k.lda, packed(k.panels.data() + c0 * k.K, k.K),
                       pieces.data() + r0 * k.ldc + c0, k.ldc);
          }
        CAPTURE(rows);
        CAPTURE(cols);
        CHECK(std::memcmp(whole.data(), pieces.data(), whole.size() * sizeof(float)) == 0);
      }
  }
}

TEST_CASE("kernels/panel_gemm: the AVX-512 and AVX2 copies give the same bits") {
  // Both add A[r, p] * B[p, j] for p = 0, 1, ... into one accumulator with a fused
  // multiply-add, so they round alike (the baseline copy, with no FMA, does not).
  if (heed::kernels::fast::widest_panel_copy() != PanelCopy::kAvx512) return;  // this CPU cannot run both
  const Case<float> k(false, 32, 100, 300, 11);
  std::vector<float> wide = k.c, narrow = k.c;
  const auto panels = packed(k.panels.data(), k.K);
  panel_gemm(PanelCopy::kAvx512, false, k.M, k.N, k.K, k.a.data(), k.lda, panels, wide.data(), k.ldc);
  panel_gemm(PanelCopy::kAvx2, false, k.M, k.N, k.K, k.a.data(), k.lda, panels, narrow.data(), k.ldc);
  CHECK(std::memcmp(wide.data(), narrow.data(), wide.size() * sizeof(float)) == 0);
}

TEST_CASE("kernels/panel_gemm: B read in place gives the packed panels' bits") {
  // B not transposed already holds each panel's rows, contiguous values ldb
  // apart; the tile reads the same values in the same order either way. Any
  // multiple of kInPlaceStep columns: half a panel, a panel and a half, three.
  for (PanelCopy copy : copies_this_cpu_runs())
    for (int64_t M : kRows)
      for (int64_t N : {kInPlaceStep, kPanel + kInPlaceStep, 3 * kPanel})
        for (int64_t K : kDepths) {
          CAPTURE(static_cast<int>(copy));
          const Case<float> k(false, M, N, K, static_cast<uint64_t>(M * 1000 + N + K));
          std::vector<float> from_packed = k.c, from_b = k.c;
          panel_gemm(copy, false, M, N, K, k.a.data(), k.lda, packed(k.panels.data(), K), from_packed.data(), k.ldc);
          panel_gemm(copy, false, M, N, K, k.a.data(), k.lda, in_place(k.b.data(), k.ldb), from_b.data(), k.ldc);
          INFO("M ", M, " N ", N, " K ", K);
          CHECK(std::memcmp(from_packed.data(), from_b.data(), from_b.size() * sizeof(float)) == 0);
          check_case(k, [&](const Case<float>&, float* c) {
            panel_gemm(copy, false, M, N, K, k.a.data(), k.lda, in_place(k.b.data(), k.ldb), c, k.ldc);
          });
        }
}

TEST_CASE("kernels/panel_gemm: A read transposed gives the row-major A's bits") {
  // op(A) = A^T with A stored [K, M] (a weight gradient's dz): the tile reads
  // op(A)[r, p] from a[p lda + r] instead of a[r lda + p], the same values in
  // the same order. Every copy, with packed panels and B read in place.
  for (PanelCopy copy : copies_this_cpu_runs())
    for (int64_t M : kRows)
      for (int64_t N : {kInPlaceStep, kPanel + kInPlaceStep, 3 * kPanel})
        for (int64_t K : kDepths) {
          CAPTURE(static_cast<int>(copy));
          INFO("M ", M, " N ", N, " K ", K);
          const Case<float> k(false, M, N, K, static_cast<uint64_t>(M * 1000 + N + K + 7));
          const int64_t ldat = M + 3;  // A^T [K, M], 3 past its row, as the others
          std::vector<float> at(static_cast<size_t>(K * ldat), std::nanf(""));
          for (int64_t r = 0; r < M; ++r)
            for (int64_t p = 0; p < K; ++p) at[p * ldat + r] = k.a[r * k.lda + p];
          for (const auto panels : {packed(k.panels.data(), K), in_place(k.b.data(), k.ldb)}) {
            std::vector<float> rows = k.c, columns = k.c;
            panel_gemm(copy, false, M, N, K, k.a.data(), k.lda, panels, rows.data(), k.ldc);
            panel_gemm(copy, true, M, N, K, at.data(), ldat, panels, columns.data(), k.ldc);
            CHECK(std::memcmp(rows.data(), columns.data(), rows.size() * sizeof(float)) == 0);
          }
          check_case(k, [&](const Case<float>&, float* c) {
            panel_gemm(copy, true, M, N, K, at.data(), ldat, in_place(k.b.data(), k.ldb), c, k.ldc);
          });
        }
}
