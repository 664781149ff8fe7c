// STUB: being written.
#include "heed/ops/dropout.h"
namespace heed {
Tensor dropout(const Tensor&, double, bool) { throw Error("dropout: not implemented yet"); }
}  // namespace heed
