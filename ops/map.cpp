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

Strides broadcast_strides(const Tensor& t, const Shape& to) {
  Strides s(to.size(), 0);
  size_t lead = to.size() - t.shape().size();
  for (size_t d = 0; d < t.shape().size(); ++d)
    s[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return s;
}

}  // namespace heed

namespace heed {

void copy_elements(const Tensor& dst, const Tensor& src) {
  if (broadcast_shapes("copy", src.shape(), dst.shape()) != dst.shape())
    throw ShapeError(msg("copy: source of shape ", src.shape(), " does not broadcast to ",
                         "destination shape ", dst.shape()));
  Strides ss = broadcast_strides(src, dst.shape());
  dispatch(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    D* out = static_cast<D*>(const_cast<void*>(dst.raw_data_ptr()));
    dispatch(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      const S* in = static_cast<const S*>(src.raw_data_ptr());
      for_each_offset<2>(dst.shape(), {&dst.strides(), &ss},
                         [&](int64_t o, int64_t i) { out[o] = static_cast<D>(in[i]); });
    });
  });
}

}  // namespace heed
