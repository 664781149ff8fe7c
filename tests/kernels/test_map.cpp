// The fast elementwise kernels (ops/kernels/fast/map.h: flat loops for the
// common layouts, threads for big ones) against the reference odometer. Each
// element is f of its operands, the same operations in both, so they must agree
// exactly: tolerance 0.
#include <cmath>
#include <tuple>

#include "heed/ops/kernels/map.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

// Operand k's strides for `shape`: dense, broadcast along a dim (stride 0), or
// every other element of a wider buffer (strided). Returns the strides and how
// many elements its buffer needs.
std::pair<Strides, int64_t> layout(const Shape& shape, int kind, int64_t broadcast_dim) {
  Strides s = contiguous_strides(shape);
  if (kind == 1 && broadcast_dim < static_cast<int64_t>(shape.size())) {  // stride 0 along one dim
    s[broadcast_dim] = 0;
  } else if (kind == 2) {  // every other element
    for (int64_t& x : s) x *= 2;
  } else if (kind == 3) {  // one value for everything
    for (int64_t& x : s) x = 0;
  }
  int64_t span = 1;
  for (size_t d = 0; d < shape.size(); ++d) span += (shape[d] - 1) * s[d];
  return {s, std::max<int64_t>(span, 1)};
}

}  // namespace

TEST_CASE("kernels/map: fast equals reference for every layout, exactly") {
  auto f1 = [](auto v) { return std::tanh(v) * v; };
  auto f2 = [](auto p, auto q) { return p * q - p / (1 + q * q); };
  uint64_t seed = 1;
  with_threads({1, 2}, [&] {
    for (int64_t n : kKernelSizes)
      for (const Shape& shape : {Shape{n}, Shape{n, 7}, Shape{3, n, 1}, Shape{2, 9, n}, Shape{33, n}})
        for (int ka = 0; ka < 4; ++ka)
          for (int kb = 0; kb < 4; ++kb)
            for (int64_t bd : {int64_t{0}, static_cast<int64_t>(shape.size()) - 1}) {
              const auto [sa, na] = layout(shape, ka, bd);
              const auto [sb, nb] = layout(shape, kb, 0);
              const std::vector<double> a = random_values<double>(na, seed++), b = random_values<double>(nb, seed++);
              const Strides so = contiguous_strides(shape);
              std::vector<double> fast(numel(shape)), ref(numel(shape));
              const std::string what = msg("shape ", shape, " layouts ", ka, kb, " broadcast dim ", bd);
              kernels::fast::map1(shape, a.data(), sa, fast.data(), so, f1);
              kernels::reference::map1(shape, a.data(), sa, ref.data(), so, f1);
              check_kernel("map1 " + what, fast, ref, 0, 0);
              kernels::fast::map2(shape, a.data(), sa, b.data(), sb, fast.data(), so, f2);
              kernels::reference::map2(shape, a.data(), sa, b.data(), sb, ref.data(), so, f2);
              check_kernel("map2 " + what, fast, ref, 0, 0);
            }
  });
}

TEST_CASE("kernels/map: a strided output, and one value per row") {
  // out every other element of a wider buffer; a is [N, 1] against [N, M].
  const Shape shape{9, 33};
  const std::vector<float> a = random_values<float>(9, 1), b = random_values<float>(9 * 33, 2);
  const Strides sa{1, 0}, sb = contiguous_strides(shape), so{66, 2};
  std::vector<float> fast(9 * 66, -1.0f), ref(9 * 66, -1.0f);
  auto f = [](auto p, auto q) { return p - q; };
  kernels::fast::map2(shape, a.data(), sa, b.data(), sb, fast.data(), so, f);
  kernels::reference::map2(shape, a.data(), sa, b.data(), sb, ref.data(), so, f);
  check_kernel("strided out", fast, ref, 0, 0);  // the gaps stay -1 in both
  std::vector<float> flat_fast(9 * 33), flat_ref(9 * 33);
  kernels::fast::map2(shape, a.data(), sa, b.data(), sb, flat_fast.data(), sb, f);
  kernels::reference::map2(shape, a.data(), sa, b.data(), sb, flat_ref.data(), sb, f);
  check_kernel("one value per row", flat_fast, flat_ref, 0, 0);
}
