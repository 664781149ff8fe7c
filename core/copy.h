// Copying and adding elements between tensors of any layout, without autograd.
//
// These are the loops under every copy in heed: an op's contiguous copy of a
// strided input, clone() and contiguous() (ops/view.cpp), the in-place writes
// (ops/inplace.cpp), and the engine's sums of gradients (autograd/engine.cpp).
// They record nothing, so the layers above use them wherever a copy is a detail
// of the work and not a step of the computation autograd must see.
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// Strides of t seen as a tensor of shape `to` (which t's shape broadcasts to):
// leading missing dims and repeated size-1 dims get stride 0.
Strides broadcast_strides(const Tensor& t, const Shape& to);

// dst[i] = src[i] for every element, converting dtype, with src broadcast to
// dst's shape; both may be strided views. Throws a ShapeError if src does not
// broadcast to dst.
void copy_elements(const Tensor& dst, const Tensor& src);

// A fresh contiguous copy of t, converted to dtype (t's own by default).
Tensor copy_of(const Tensor& t, DType dtype);
inline Tensor copy_of(const Tensor& t) { return copy_of(t, t.dtype()); }

// dst[i] += alpha * src[i], src broadcast to dst's shape. Both floating, of one
// dtype (a DTypeError otherwise); src must not share memory with dst unless it
// is dst itself (an element would be read after it was written).
void add_elements(const Tensor& dst, const Tensor& src, double alpha = 1.0);

}  // namespace heed
