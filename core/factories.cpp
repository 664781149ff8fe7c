// Tensor factories: fresh contiguous tensors, filled.
#include <cmath>

#include "heed/core/copy.h"
#include "heed/core/iterate.h"
#include "heed/core/random.h"
#include "heed/core/tensor.h"

namespace heed {

namespace {
// Fills a fresh tensor with fn(i) for i = 0..numel-1 (serially: fn may draw
// random numbers, and their order must not depend on the thread count).
template <class F>
Tensor fill_with(const Shape& shape, DType dtype, F fn) {
  Tensor t = make_tensor(shape, dtype, /*zero_fill=*/false);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(fn(i));
  });
  return t;
}

void check_floating(const char* op, DType dtype) {
  if (!is_floating(dtype))
    throw DTypeError(msg(op, ": dtype ", dtype, " is not floating; use float32 or float64"));
}

template <class T>
Tensor from_vector_impl(const std::vector<T>& v, const Shape& shape) {
  check_sizes("from_vector", shape);
  if (numel(shape) != static_cast<int64_t>(v.size()))
    throw ShapeError(msg("from_vector: ", v.size(), " values cannot fill shape ", shape, " (",
                         numel(shape), " elements)"));
  Tensor t = make_tensor(shape, dtype_of<T>(), /*zero_fill=*/false);
  std::copy(v.begin(), v.end(), t.data_ptr<T>());
  return t;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_sizes("empty", shape);  // (make_tensor checks too, but would name itself "tensor")
  return make_tensor(shape, dtype, false);
}
Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  check_sizes("zeros", shape);
  return make_tensor(shape, dtype, true);
}
Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  check_sizes("full", shape);
  if (dtype == kInt64) element_value<int64_t>(value, "full");  // NaN, inf or out of range: no int64 value
  return fill_with(shape, dtype, [&](int64_t) { return value; });
}
Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(double end, DType dtype) { return arange(0, end, 1, dtype); }
Tensor Tensor::arange(double start, double end, double step, DType dtype) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw ValueError(msg("arange: start ", start, ", end ", end, ", step ", step,
                         "; they must be finite and step nonzero"));
  // As in PyTorch: ceil((end - start) / step) values, none if the range is empty.
  // Checked in double first: converting a double beyond int64's range is undefined.
  double count = std::max(0.0, std::ceil((end - start) / step));
  if (count > 0x1p53)
    throw ValueError(msg("arange: start ", start, ", end ", end, ", step ", step, " make ", count,
                         " values, far more than memory can hold"));
  int64_t n = static_cast<int64_t>(count);
  return fill_with({n}, dtype, [&](int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor Tensor::linspace(double start, double end, int64_t steps, DType dtype) {
  if (steps < 0) throw ValueError(msg("linspace: steps is ", steps, "; it must be >= 0"));
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  return fill_with({steps}, dtype, [&](int64_t i) {
    // Fill the second half backwards from end, as PyTorch does, so end is exact.
    // (One step is just start, also as in PyTorch.)
    if (steps == 1) return start;
    return i < steps / 2 ? start + step * static_cast<double>(i)
                         : end - step * static_cast<double>(steps - 1 - i);
  });
}

Tensor Tensor::eye(int64_t n, DType dtype) {
  if (n < 0) throw ValueError(msg("eye: n is ", n, "; it must be >= 0"));
  return fill_with({n, n}, dtype, [&](int64_t i) { return i / n == i % n ? 1.0 : 0.0; });
}

// Each factory fills its tensor under the generator's lock (core/random.h).
Tensor Tensor::rand(const Shape& shape, DType dtype, Generator& gen) {
  check_floating("rand", dtype);
  check_sizes("rand", shape);
  return gen.locked([&](RandomStream& s) { return fill_with(shape, dtype, [&](int64_t) { return s.uniform(); }); });
}

Tensor Tensor::randn(const Shape& shape, DType dtype, Generator& gen) {
  check_floating("randn", dtype);
  check_sizes("randn", shape);
  return gen.locked([&](RandomStream& s) { return fill_with(shape, dtype, [&](int64_t) { return s.normal(); }); });
}

Tensor Tensor::randint(int64_t low, int64_t high, const Shape& shape, Generator& gen) {
  if (high <= low)
    throw ValueError(msg("randint: low is ", low, ", high is ", high, "; need low < high"));
  check_sizes("randint", shape);
  return gen.locked(
      [&](RandomStream& s) { return fill_with(shape, kInt64, [&](int64_t) { return s.randint(low, high); }); });
}

// Fisher-Yates: position i takes a uniformly chosen one of the values not yet
// placed, so each of the n! orders is equally likely.
Tensor Tensor::randperm(int64_t n, Generator& gen) {
  if (n < 0) throw ValueError(msg("randperm: n is ", n, "; it must be >= 0"));
  Tensor t = arange(static_cast<double>(n), kInt64);
  int64_t* p = t.data_ptr<int64_t>();
  gen.locked([&](RandomStream& s) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[s.randint(0, i + 1)]);
  });
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s) { return from_vector_impl(v, s); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s) { return from_vector_impl(v, s); }
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& s) { return from_vector_impl(v, s); }

}  // namespace heed
