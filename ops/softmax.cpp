// STUB: being written.
#include "heed/ops/softmax.h"
namespace heed {
Tensor softmax(const Tensor&, int64_t) { throw Error("softmax: not implemented yet"); }
Tensor log_softmax(const Tensor&, int64_t) { throw Error("log_softmax: not implemented yet"); }
}  // namespace heed
namespace heed {
Tensor Tensor::softmax(int64_t d) const { return heed::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return heed::log_softmax(*this, d); }
}  // namespace heed
