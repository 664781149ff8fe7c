// STUB: being written.
#include "heed/ops/mask.h"
namespace heed {
#define HEED_TODO throw Error("mask: not implemented yet")
Tensor masked_fill(const Tensor&, const Tensor&, double) { HEED_TODO; }
Tensor where(const Tensor&, const Tensor&, const Tensor&) { HEED_TODO; }
Tensor eq(const Tensor&, const Tensor&) { HEED_TODO; }
Tensor ne(const Tensor&, const Tensor&) { HEED_TODO; }
Tensor lt(const Tensor&, const Tensor&) { HEED_TODO; }
Tensor le(const Tensor&, const Tensor&) { HEED_TODO; }
Tensor gt(const Tensor&, const Tensor&) { HEED_TODO; }
Tensor ge(const Tensor&, const Tensor&) { HEED_TODO; }
Tensor tril(const Tensor&, int64_t) { HEED_TODO; }
Tensor triu(const Tensor&, int64_t) { HEED_TODO; }
}  // namespace heed
