// STUB: being written.
#include "heed/ops/linalg.h"
namespace heed {
Tensor matmul(const Tensor&, const Tensor&) { throw Error("matmul: not implemented yet"); }
}  // namespace heed
namespace heed {
Tensor Tensor::matmul(const Tensor& o) const { return heed::matmul(*this, o); }
}  // namespace heed
