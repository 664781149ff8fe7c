// STUB: being written (reductions). Every function throws until then.
#include "heed/ops/reduce.h"
namespace heed {
#define HEED_TODO throw Error("reduce: not implemented yet")
Tensor sum(const Tensor&) { HEED_TODO; }
Tensor sum(const Tensor&, const std::vector<int64_t>&, bool) { HEED_TODO; }
Tensor mean(const Tensor&) { HEED_TODO; }
Tensor mean(const Tensor&, const std::vector<int64_t>&, bool) { HEED_TODO; }
Tensor max(const Tensor&) { HEED_TODO; }
Tensor max(const Tensor&, int64_t, bool) { HEED_TODO; }
Tensor min(const Tensor&) { HEED_TODO; }
Tensor min(const Tensor&, int64_t, bool) { HEED_TODO; }
Tensor var(const Tensor&, int64_t) { HEED_TODO; }
Tensor var(const Tensor&, const std::vector<int64_t>&, bool, int64_t) { HEED_TODO; }
Tensor argmax(const Tensor&, int64_t, bool) { HEED_TODO; }
Tensor argmin(const Tensor&, int64_t, bool) { HEED_TODO; }
Tensor sum_to(const Tensor& g, const Shape& s) { if (g.shape() == s) return g; HEED_TODO; }
}  // namespace heed
namespace heed {
Tensor Tensor::sum() const { return heed::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& d, bool k) const { return heed::sum(*this, d, k); }
Tensor Tensor::mean() const { return heed::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& d, bool k) const { return heed::mean(*this, d, k); }
Tensor Tensor::max() const { return heed::max(*this); }
Tensor Tensor::max(int64_t d, bool k) const { return heed::max(*this, d, k); }
Tensor Tensor::min() const { return heed::min(*this); }
Tensor Tensor::min(int64_t d, bool k) const { return heed::min(*this, d, k); }
Tensor Tensor::argmax(int64_t d, bool k) const { return heed::argmax(*this, d, k); }
}  // namespace heed
