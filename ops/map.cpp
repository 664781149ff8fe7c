#include "heed/ops/map.h"

namespace heed {

void check_floating(std::string_view op, const Tensor& t) {
  if (!is_floating(t.dtype()))
    throw DTypeError(msg(op, ": input has dtype ", t.dtype(), " (shape ", t.shape(), "); ", op,
                         " needs a floating dtype (float32 or float64)"));
}

void check_same_dtype(std::string_view op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw DTypeError(msg(op, ": a is ", a.dtype(), " ", a.shape(), ", b is ", b.dtype(), " ",
                         b.shape(), "; both must have the same dtype (convert one with .to())"));
}

AroundDim around_dim(const Shape& s, int64_t dim) {
  AroundDim a;
  if (s.empty()) return a;
  for (int64_t d = 0; d < dim; ++d) a.outer *= s[d];
  a.size = s[dim];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(s.size()); ++d) a.inner *= s[d];
  return a;
}

}  // namespace heed

