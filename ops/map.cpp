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

bool is_one_value(const Tensor& t) {
  if (t.numel() == 0) return false;
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] != 1 && t.strides()[d] != 0) return false;
  return true;
}

bool is_row_column(const Tensor& t, const Shape& to) {
  const Shape& s = t.shape();
  if (s.size() != to.size() || s.empty() || s.back() != 1 || to.back() == 0 || !t.is_contiguous()) return false;
  for (size_t d = 0; d + 1 < s.size(); ++d)
    if (s[d] != to[d]) return false;
  return true;
}

}  // namespace heed

