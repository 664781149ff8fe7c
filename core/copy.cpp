#include "heed/core/copy.h"

#include <algorithm>
#include <atomic>

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

void check_convertible(const Tensor& src, DType dtype) {
  if (dtype != kInt64 || !is_floating(src.dtype())) return;
  dispatch_floating(src.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* in = static_cast<const S*>(src.raw_data_ptr());
    std::atomic<bool> bad{false};  // set from the threads; the error is raised after them
    for_each_offset<1>(src.shape(), {&src.strides()}, [&](int64_t i) {
      if (!has_int64_value(in[i])) bad.store(true, std::memory_order_relaxed);
    });
    if (!bad) return;
    // The error path: find the first offender in a contiguous copy, to name it.
    const Tensor c = copy_of(src);
    const S* first = static_cast<const S*>(c.raw_data_ptr());
    element_value<int64_t>(*std::find_if(first, first + c.numel(), [](S v) { return !has_int64_value(v); }),
                           "copy to int64");
  });
}

void copy_elements(const Tensor& dst, const Tensor& src) {
  check_broadcasts("copy", dst, src);
  check_convertible(src, dst.dtype());  // before anything is written
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
