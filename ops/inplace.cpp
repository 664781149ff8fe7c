// In-place writes: fill_, copy_, add_, mul_, uniform_, normal_ (declared in core/tensor.h).
//
// Each bumps the storage's version counter, which is how autograd notices that a
// tensor it saved for backward has changed under it (autograd/node.h: SavedTensor).
// They live with the ops because they obey autograd's rule: autograd does not
// record in-place writes, so with grad mode on a write to a tensor that requires
// grad would silently be missing from the graph. They refuse it instead.
#include <cmath>

#include "heed/autograd/grad_mode.h"
#include "heed/core/copy.h"
#include "heed/core/iterate.h"
#include "heed/core/profile_scope.h"
#include "heed/core/random.h"
#include "heed/core/tensor.h"
#include "heed/ops/map.h"

namespace heed {

namespace {
// Optimizers update parameters inside a NoGradGuard; anything else that writes
// into a tensor that requires grad would make its gradients wrong.
void check_inplace(const char* op, const Tensor& t) {
  if (is_grad_enabled() && t.requires_grad())
    throw AutogradError(msg(op, ": in-place write to a tensor of shape ", t.shape(),
                            " that requires grad, while grad mode is on; autograd does not "
                            "record in-place ops, so wrap the update in a NoGradGuard or use "
                            "the out-of-place op"));
  // An expanded tensor repeats one memory slot along a stride-0 dim: writing to
  // it would write that slot many times (and race between threads).
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.strides()[d] == 0 && t.shape()[d] > 1)
      throw ValueError(msg(op, ": the tensor of shape ", t.shape(), " repeats memory along dim ", d,
                           " (an expand() view), so an in-place write is ambiguous; clone() it first"));
}

// A source that shares memory with the destination (x.copy_(x.t()), x.add_(x.t()))
// would be read after some of its elements were already overwritten. Reading from a
// private copy instead gives what the user means.
Tensor unaliased(const Tensor& dst, const Tensor& src) {
  return src.shares_storage(dst) ? copy_of(src) : src;
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  profiler::OpScope prof("fill_");
  check_inplace("fill_", *this);
  dispatch(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>();
    const T v = element_value<T>(value, "fill_");
    for_each_offset<1>(shape(), {&strides()}, [&](int64_t o) { p[o] = v; });
  });
  impl().storage->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  profiler::OpScope prof("copy_");
  check_inplace("copy_", *this);
  copy_elements(*this, unaliased(*this, src));
  impl().storage->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  profiler::OpScope prof("add_");
  check_inplace("add_", *this);
  check_floating("add_", *this);
  check_same_dtype("add_", *this, other);
  if (broadcast_shapes("add_", other.shape(), shape()) != shape())
    throw ShapeError(msg("add_: other has shape ", other.shape(), ", which does not broadcast to ",
                         "this tensor's shape ", shape()));
  add_elements(*this, unaliased(*this, other), alpha);
  impl().storage->bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  profiler::OpScope prof("mul_");
  check_inplace("mul_", *this);
  check_floating("mul_", *this);
  dispatch_floating(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>();
    const T f = static_cast<T>(factor);
    for_each_offset<1>(shape(), {&strides()}, [&](int64_t i) { p[i] *= f; });
  });
  impl().storage->bump_version();
  return *this;
}

Tensor& Tensor::uniform_(double from, double to, Generator& gen) {
  profiler::OpScope prof("uniform_");
  check_inplace("uniform_", *this);
  check_floating("uniform_", *this);
  if (!std::isfinite(from) || !std::isfinite(to) || from > to)
    throw ValueError(msg("uniform_: from ", from, ", to ", to, "; need finite bounds with from <= to"));
  dispatch_floating(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>();
    gen.locked([&](RandomStream& s) {  // one unbroken stretch of the stream, as a factory draws
      for_each_offset<1>(shape(), {&strides()}, [&](int64_t o) { p[o] = static_cast<T>(from + (to - from) * s.uniform()); });
    });
  });
  impl().storage->bump_version();
  return *this;
}

Tensor& Tensor::normal_(double mean, double std, Generator& gen) {
  profiler::OpScope prof("normal_");
  check_inplace("normal_", *this);
  check_floating("normal_", *this);
  if (!std::isfinite(mean) || !std::isfinite(std) || std < 0)
    throw ValueError(msg("normal_: mean ", mean, ", std ", std, "; need a finite mean and a finite std >= 0"));
  dispatch_floating(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>();
    gen.locked([&](RandomStream& s) {
      for_each_offset<1>(shape(), {&strides()}, [&](int64_t o) { p[o] = static_cast<T>(mean + std * s.normal()); });
    });
  });
  impl().storage->bump_version();
  return *this;
}

}  // namespace heed
