// The fast layer norm kernels (ops/kernels/fast/layer_norm.cpp: float sums in
// vector lanes, blocks of rows shared between threads, each adding up its own
// share of the parameter gradients) against the reference loops, whose sums are
// all in double.
//
// Tolerance, float: a row's mean and variance summed in float lanes instead of
// double differ by a few float ulps of the row's scale, so y and dx agree to
// 1e-5 relative and absolute; dw and db sum M rows in double in both (the fast
// kernel's blocks of 16 rows in double too), in another order: 1e-5. double: both are the reference.
#include "heed/ops/kernels/layer_norm.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

template <class T>
void run_case(int64_t M, int64_t D, bool affine, uint64_t seed) {
  const std::string what = msg("layer_norm M ", M, " D ", D, affine ? " affine" : "", sizeof(T) == 4 ? " float" : "");
  std::vector<T> x = random_values<T>(M * D, seed, 2.0);
  for (int64_t i = 0; i < M * D; i += 3) x[i] += T(5);  // a mean away from 0, as residual streams have
  const std::vector<T> w = random_values<T>(D, seed + 1), b = random_values<T>(D, seed + 2);
  const std::vector<T> dy = random_values<T>(M * D, seed + 3);
  const T* pw = affine ? w.data() : nullptr;
  const T* pb = affine ? b.data() : nullptr;
  std::vector<T> fy(M * D), ry(M * D), fdx(M * D), rdx(M * D), fdw(D), rdw(D), fdb(D), rdb(D);
  std::vector<double> fmean(M), frstd(M), rmean(M), rrstd(M);
  kernels::fast::layer_norm_rows(x.data(), pw, pb, fy.data(), fmean.data(), frstd.data(), M, D, 1e-5);
  kernels::reference::layer_norm_rows(x.data(), pw, pb, ry.data(), rmean.data(), rrstd.data(), M, D, 1e-5);
  check_kernel(what + " y", fy, ry, 1e-5, 1e-5);
  check_kernel(what + " mean", fmean, rmean, 1e-5, 1e-5);
  check_kernel(what + " rstd", frstd, rrstd, 1e-5, 1e-5);
  // The backward from the reference's saved statistics, as the op would give it;
  // then dx alone and the parameter gradients alone (the fast kernel does both
  // in one pass, or either).
  kernels::fast::layer_norm_backward(x.data(), pw, dy.data(), rmean.data(), rrstd.data(), fdx.data(), fdw.data(),
                                     fdb.data(), M, D);
  kernels::reference::layer_norm_backward(x.data(), pw, dy.data(), rmean.data(), rrstd.data(), rdx.data(), rdw.data(),
                                          rdb.data(), M, D);
  check_kernel(what + " dx", fdx, rdx, 1e-5, 1e-5);
  check_kernel(what + " dw", fdw, rdw, 1e-5, 1e-5);
  check_kernel(what + " db", fdb, rdb, 1e-5, 1e-5);
  std::vector<T> only_dx(M * D), only_dw(D), only_db(D);
  kernels::fast::layer_norm_backward<T>(x.data(), pw, dy.data(), rmean.data(), rrstd.data(), only_dx.data(), nullptr,
                                     nullptr, M, D);
  kernels::fast::layer_norm_backward<T>(x.data(), pw, dy.data(), rmean.data(), rrstd.data(), nullptr, only_dw.data(),
                                     only_db.data(), M, D);
  check_kernel(what + " dx alone", only_dx, rdx, 1e-5, 1e-5);
  check_kernel(what + " dw alone", only_dw, rdw, 1e-5, 1e-5);
  check_kernel(what + " db alone", only_db, rdb, 1e-5, 1e-5);
}

}  // namespace

TEST_CASE("kernels/layer_norm: fast equals reference") {
  uint64_t seed = 1;
  with_threads({1, 2, 3}, [&] {
    for (auto [M, D] : {std::pair<int64_t, int64_t>{1, 1}, {7, 7}, {8, 8}, {9, 9}, {33, 33}, {3, 1000}, {1000, 33},
                        {256, 130}})  // the last ones: many row blocks, column blocks that end short
      for (bool affine : {true, false}) {
        run_case<float>(M, D, affine, seed++);
        run_case<double>(M, D, affine, seed++);
      }
  });
}
