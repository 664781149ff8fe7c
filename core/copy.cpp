#include "heed/core/copy.h"

#include "heed/core/iterate.h"

namespace heed {

Strides broadcast_strides(const Tensor& t, const Shape& to) {
  Strides s(to.size(), 0);
  size_t lead = to.size() - t.shape().size();
  for (size_t d = 0; d < t.shape().size(); ++d)
    s[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return s;
}

namespace {
void check_broadcasts(const char* op, const Tensor& dst, const Tensor& src) {
  if (broadcast_shapes(op, src.shape(), dst.shape()) != dst.shape())
    throw ShapeError(msg(op, ": source of shape ", src.shape(), " does not broadcast to ",
                         "destination shape ", dst.shape()));
}
}  // namespace

void copy_elements(const Tensor& dst, const Tensor& src) {
  check_broadcasts("copy", dst, src);
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

Tensor copy_of(const Tensor& t, DType dtype) {
  Tensor out = make_tensor(t.shape(), dtype, /*zero_fill=*/false);
  copy_elements(out, t);
  return out;
}

void add_elements(const Tensor& dst, const Tensor& src, double alpha) {
  check_broadcasts("add", dst, src);
  if (!is_floating(dst.dtype()) || src.dtype() != dst.dtype())
    throw DTypeError(msg("add: destination is ", dst.dtype(), ", source ", src.dtype(),
                         "; both must be the same floating dtype"));
  Strides ss = broadcast_strides(src, dst.shape());
  dispatch_floating(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(const_cast<void*>(dst.raw_data_ptr()));
    const T* q = static_cast<const T*>(src.raw_data_ptr());
    const T a = static_cast<T>(alpha);
    for_each_offset<2>(dst.shape(), {&dst.strides(), &ss}, [&](int64_t i, int64_t j) { p[i] += a * q[j]; });
  });
}

}  // namespace heed
