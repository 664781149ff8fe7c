// Arithmetic, elementwise. Binary ops broadcast by NumPy/PyTorch rules (see
// broadcast_shapes in core/shape.h); their backward sums each gradient back to its
// input's shape (sum_to in ops/reduce.h). Both operands must have the same
// floating dtype: heed does not promote silently.
#pragma once

#include <optional>

#include "heed/core/tensor.h"

namespace heed {

Tensor add(const Tensor& a, const Tensor& b);  // a + b
Tensor sub(const Tensor& a, const Tensor& b);  // a - b
Tensor mul(const Tensor& a, const Tensor& b);  // a * b
Tensor div(const Tensor& a, const Tensor& b);  // a / b

// With a scalar: the scalar takes the tensor's dtype.
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor rdiv(const Tensor& a, double b);  // b / a

Tensor neg(const Tensor& x);                 // -x
Tensor pow(const Tensor& x, double exponent);  // x^e; d/dx = e x^(e-1)
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);                 // d/dx = sign(x), 0 at 0
// Limits x to [min, max] (either bound optional); the gradient passes where
// min <= x <= max and is 0 where x was clamped.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
inline Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }

}  // namespace heed
