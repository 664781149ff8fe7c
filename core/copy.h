// Copying and adding elements between tensors of any layout, without autograd.
//
// These are the loops under every copy in heed: an op's contiguous copy of a
// strided input, clone() and contiguous() (ops/view.cpp), the in-place writes
// (ops/inplace.cpp), and the engine's sums of gradients (autograd/engine.cpp).
// They record nothing, so the layers above use them wherever a copy is a detail
// of the work and not a step of the computation autograd must see.
#pragma once

#include <string_view>
#include <type_traits>

#include "heed/core/error.h"
#include "heed/core/tensor.h"

namespace heed {

// Strides of t seen as a tensor of shape `to` (which t's shape broadcasts to):
// leading missing dims and repeated size-1 dims get stride 0.
Strides broadcast_strides(const Tensor& t, const Shape& to);

// dst[i] = src[i] for every element, converting dtype, with src broadcast to
// dst's shape; both may be strided views. Throws a ShapeError if src does not
// broadcast to dst.
void copy_elements(const Tensor& dst, const Tensor& src);

// Whether a float has an int64 value: finite and, truncated toward zero, inside
// [-2^63, 2^63). C++ leaves every other float-to-int64 conversion undefined
// (PyTorch returns whatever the CPU's instruction gives: INT64_MIN on x86), so
// heed refuses them. No float or double lies strictly between -2^63 - 1 and
// -2^63, so the bounds alone decide; NaN fails both comparisons.
inline bool has_int64_value(double v) { return v >= -0x1p63 && v < 0x1p63; }

// `value` as an element of type T; for int64 a value without one (above) is a
// ValueError naming `op`.
template <class T>
T element_value(double value, std::string_view op) {
  if constexpr (std::is_same_v<T, int64_t>)
    if (!has_int64_value(value))
      throw ValueError(msg(op, ": ", value, " has no int64 value; a float must be finite and, truncated toward ",
                           "zero, within int64's range [-2^63, 2^63)"));
  return static_cast<T>(value);
}

// Throws the ValueError above if some value of src has no value in `dtype` (only
// float-to-int64 can fail). copy_elements checks this before it writes anything;
// a caller that copies several tensors (load_state_dict) checks them all first.
void check_convertible(const Tensor& src, DType dtype);

// A fresh contiguous copy of t, converted to dtype (t's own by default).
Tensor copy_of(const Tensor& t, DType dtype);
inline Tensor copy_of(const Tensor& t) { return copy_of(t, t.dtype()); }

// dst[i] += alpha * src[i], src broadcast to dst's shape. Both floating, of one
// dtype (a DTypeError otherwise); src must not share memory with dst unless it
// is dst itself (an element would be read after it was written).
void add_elements(const Tensor& dst, const Tensor& src, double alpha = 1.0);

}  // namespace heed
