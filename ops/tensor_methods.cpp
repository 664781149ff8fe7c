// The Tensor methods that are ops (declared in core/tensor.h), each forwarding to
// the free function that is the op, so that x.sum() and sum(x) are one thing.
// (The in-place writes have bodies of their own: ops/inplace.cpp.)
#include "heed/ops/ops.h"

namespace heed {

// ---- copies and conversions (ops/view.cpp) ------------------------------------
Tensor Tensor::clone() const { return heed::clone(*this); }
Tensor Tensor::contiguous() const { return heed::contiguous(*this); }
Tensor Tensor::to(DType dtype) const { return heed::to(*this, dtype); }

// ---- views (ops/view.cpp) ----------------------------------------------------------
Tensor Tensor::reshape(const Shape& s) const { return heed::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return heed::view(*this, s); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return heed::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  if (dim() != 2)
    throw ShapeError(msg("t: input has shape ", shape(), "; t() needs a 2-D tensor (use transpose)"));
  return heed::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return heed::permute(*this, dims); }
Tensor Tensor::squeeze() const { return heed::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return heed::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return heed::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return heed::expand(*this, s); }
Tensor Tensor::slice(int64_t d, int64_t a, int64_t b, int64_t step) const { return heed::slice(*this, d, a, b, step); }
Tensor Tensor::select(int64_t d, int64_t i) const { return heed::select(*this, d, i); }

// ---- math (ops/reduce.cpp, ops/linalg.cpp, ops/elementwise.cpp, ops/softmax.cpp, ops/activation.cpp) ----
Tensor Tensor::sum() const { return heed::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& d, bool k) const { return heed::sum(*this, d, k); }
Tensor Tensor::mean() const { return heed::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& d, bool k) const { return heed::mean(*this, d, k); }
Tensor Tensor::var() const { return heed::var(*this); }
Tensor Tensor::var(const std::vector<int64_t>& d, bool k, int64_t c) const { return heed::var(*this, d, k, c); }
Tensor Tensor::max() const { return heed::max(*this); }
Tensor Tensor::max(int64_t d, bool k) const { return heed::max(*this, d, k); }
Tensor Tensor::min() const { return heed::min(*this); }
Tensor Tensor::min(int64_t d, bool k) const { return heed::min(*this, d, k); }
Tensor Tensor::argmax(int64_t d, bool k) const { return heed::argmax(*this, d, k); }
Tensor Tensor::matmul(const Tensor& o) const { return heed::matmul(*this, o); }
Tensor Tensor::pow(double e) const { return heed::pow(*this, e); }
Tensor Tensor::softmax(int64_t d) const { return heed::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return heed::log_softmax(*this, d); }
Tensor Tensor::abs() const { return heed::abs(*this); }
Tensor Tensor::neg() const { return heed::neg(*this); }
Tensor Tensor::exp() const { return heed::exp(*this); }
Tensor Tensor::log() const { return heed::log(*this); }
Tensor Tensor::sqrt() const { return heed::sqrt(*this); }
Tensor Tensor::tanh() const { return heed::tanh(*this); }
Tensor Tensor::sigmoid() const { return heed::sigmoid(*this); }
Tensor Tensor::relu() const { return heed::relu(*this); }

}  // namespace heed
